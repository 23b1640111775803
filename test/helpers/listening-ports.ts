import { readdirSync, readFileSync, readlinkSync } from 'node:fs';

/** The inode of each socket descriptor the process holds, once per descriptor (copies of one socket repeat it). */
function socketInodes(pid: number): string[] {
  const inodes: string[] = [];
  for (const fd of readdirSync(`/proc/${pid}/fd`)) {
    let target: string;
    try {
      target = readlinkSync(`/proc/${pid}/fd/${fd}`);
    } catch {
      continue; // closed meanwhile
    }
    const match = /^socket:\[(\d+)\]$/.exec(target);
    if (match) inodes.push(match[1]);
  }
  return inodes;
}

/** Every listening TCP socket on the machine, by inode, with its port. */
function listeningSockets(): Map<string, number> {
  const sockets = new Map<string, number>();
  for (const table of ['/proc/net/tcp', '/proc/net/tcp6']) {
    for (const line of readFileSync(table, 'utf8').split('\n').slice(1)) {
      const f = line.trim().split(/\s+/);
      // local_address is hex "ADDR:PORT"; state 0A is LISTEN; the inode is the tenth column.
      if (f.length < 10 || f[3] !== '0A') continue;
      sockets.set(f[9], Number.parseInt(f[1].split(':')[1], 16));
    }
  }
  return sockets;
}

/**
 * The TCP ports a process listens on, read from the kernel (its socket file descriptors matched against the
 * listening sockets in /proc/net/tcp and tcp6), not from what the process says about itself. Linux only.
 */
export function listeningPorts(pid: number): Set<number> {
  const listening = listeningSockets();
  const ports = new Set<number>();
  for (const inode of socketInodes(pid)) {
    const port = listening.get(inode);
    if (port !== undefined) ports.add(port);
  }
  return ports;
}

/**
 * How many of a process's file descriptors refer to the socket listening on `port` (copies of one listening socket
 * share its inode), read from the kernel as above. Linux only.
 */
export function listeningDescriptors(pid: number, port: number): number {
  const listening = listeningSockets();
  return socketInodes(pid).filter((inode) => listening.get(inode) === port).length;
}
