/**
 * Shares each turn of the event loop between answering chargers and everything else the loop must do, above all
 * taking new connections in.
 *
 * Node's event loop accepts one new connection per turn and listening descriptor (libuv takes one from the listen
 * queue each time it polls; the chargers' listener has copies, see transport/listener-copies.ts),
 * and a turn lasts as long as the work its poll phase brings. Under a flood every charger with a CALL pending is
 * ready at once, so one turn answered all of them (1,000 CALLs, about 40 ms) and new chargers got in at 25 a second:
 * after a minute a tenth of those arriving during a flood were still in their handshake. So a turn answers at most
 * `perTurn` connections' CALLs (in the tick of the read, as before, while there is room); the rest wait, first come
 * first served, and are answered at the start of the next turns, each turn first polling sockets, which takes one
 * more connection in and reads only what the answers of the last turn let chargers send. With 64 a turn lasts a few
 * milliseconds under any load, hundreds of connections a second are accepted, and a message waits at most for the
 * ones ahead of it. Nothing is refused or dropped: a waiting connection's CALLs are held, as before, under the
 * endpoint's own bounds.
 *
 * The share applies only while chargers are getting in or expected back: while a connection is in its opening
 * handshake (counted by the admission limits from TCP accept to upgrade, `handshakeStarted`/`handshakeEnded`), for
 * `holdMs` (1 s) after the last one ended, and for `leftHoldMs` (10 s) after a charger's connection closed
 * (`chargerLeft`). The holds are for what the count cannot see: connections still in the kernel's listen queue,
 * which in a reconnect storm hold thousands while those accepted finish their handshakes faster than the next are
 * accepted, and the boots that follow each upgrade. A charger that left is expected back after its reconnect
 * back-off, and a SYN the full listen queue dropped comes back on the kernel's retransmission timer (1, 3, 7 s
 * after the first). Between those waves the count can stay at zero for more than a second, and a long turn then
 * delays the next wave's accepts (inferred from the storms' CPU in bench/analysis.md, twenty-first round; not
 * traced). Ten seconds covers a SYN dropped twice plus a back-off of a few seconds. A flood has no closes: once
 * everyone is in, its turns are not shared. With nobody getting in or expected back, a turn answers every
 * connection it read, as a server without turns would: a CALL then waits for no later turn, so its parsed frame is
 * not copied by the scavenges in between, and the loop makes no extra pass per 64 answers. The first connection
 * accepted during a long turn (at most one turn's wait) makes the rest of that turn and the turns after it short
 * again.
 *
 * Where a read's frames are delivered by the gateway's own frame reader, the reader opens a read scope around them
 * (`readOpened`/`readClosed`) and the answers of that read run as the scope closes, still after every CALL of the
 * read is held, without a `process.nextTick`: a tick queued in a socket's read callback makes Node call back into
 * JavaScript once more after the callback, which under a flood of one CALL per read is one more crossing per CALL.
 */
export interface AnswerTurnRunner {
  /** Answers the CALLs the connection holds (its part of a turn). */
  runHeld(): void;
}

const DEFAULT_PER_TURN = 64;
const DEFAULT_HOLD_MS = 1000;
const DEFAULT_LEFT_HOLD_MS = 10_000;

export class AnswerTurns {
  /** Connections with CALLs to answer that did not fit in their turn, in arrival order (`head` is the next). */
  private waiting: AnswerTurnRunner[] = [];
  private head = 0;
  /** Answers this turn may still start in the tick of the read. */
  private budget: number;
  /** A check-phase callback is due: it renews the budget, and answers those waiting. */
  private turnEndScheduled = false;
  private readonly onTurnEnd = () => this.turnEnd();
  /** A read scope is open: answers that may start in the tick of the read wait in `ofThisRead` for it to close. */
  private readOpen = false;
  private ofThisRead: AnswerTurnRunner[] = [];
  private runningReadAnswers = false;
  /** Connections of this process in their opening handshake (`handshakeStarted` less `handshakeEnded`). */
  private newcomers = 0;
  /** Each turn answers its share: a handshake is under way, or a hold has not passed yet (`sharedUntil`). */
  private sharing = false;
  /** When the holds end: `holdMs` after the last handshake ended, `leftHoldMs` after the last charger left. */
  private sharedUntil = 0;
  /** Ends the sharing once the holds have passed with no handshake under way; one at a time, re-armed as needed. */
  private holdTimer: NodeJS.Timeout | undefined;
  private readonly onHoldOver = () => this.holdOver();

  constructor(
    private readonly perTurn = DEFAULT_PER_TURN,
    private readonly holdMs = DEFAULT_HOLD_MS,
    private readonly leftHoldMs = DEFAULT_LEFT_HOLD_MS,
  ) {
    this.budget = perTurn;
  }

  /** Called once per read that held CALLs: the connection's CALLs are answered after the read, in its turn. */
  schedule(runner: AnswerTurnRunner): void {
    if (this.head === this.waiting.length && (this.budget > 0 || !this.sharing)) {
      if (this.budget > 0) this.budget--;
      // After the read (every CALL of the read is then held), in the same turn: as the reader's scope closes, or
      // after the read's callback returns.
      if (this.readOpen) this.ofThisRead.push(runner);
      else process.nextTick(runHeldOf, runner);
      return;
    }
    this.waiting.push(runner);
    // The budget is renewed only when it ran out: at a steady trickle of CALLs a check-phase callback per CALL
    // (an Immediate, and a loop pass that polls without waiting) cost more than answering a Heartbeat. Spent over
    // several quiet turns, it still bounds a turn: those beyond it are answered in this turn's check phase.
    if (!this.turnEndScheduled) {
      this.turnEndScheduled = true;
      setImmediate(this.onTurnEnd);
    }
  }

  /** A connection was accepted and is in its opening handshake: turns are shared until a hold after the last ends. */
  handshakeStarted(): void {
    this.newcomers++;
    this.sharing = true;
  }

  /** A handshake counted by `handshakeStarted` ended (upgraded, refused or closed): the hold starts with the last. */
  handshakeEnded(): void {
    if (this.newcomers > 0) this.newcomers--;
    if (this.newcomers > 0 || !this.sharing) return;
    this.holdFor(this.holdMs);
  }

  /**
   * An upgraded charger's connection closed: it is expected back, through the listen queue where no count sees it,
   * so turns are shared until `leftHoldMs` after the last one left (a storm's drop closes thousands at once).
   */
  chargerLeft(): void {
    this.sharing = true;
    this.holdFor(this.leftHoldMs);
  }

  private holdFor(ms: number): void {
    const until = Date.now() + ms;
    if (until > this.sharedUntil) this.sharedUntil = until;
    if (this.holdTimer === undefined) {
      this.holdTimer = setTimeout(this.onHoldOver, ms);
      this.holdTimer.unref();
    }
  }

  /** Whether each turn answers only its share now (for tests). */
  get sharingTurns(): boolean {
    return this.sharing;
  }

  /** Milliseconds until the holds end, not counting a handshake under way (for tests). */
  get holdLeftMs(): number {
    return this.sharing ? Math.max(0, this.sharedUntil - Date.now()) : 0;
  }

  private holdOver(): void {
    this.holdTimer = undefined;
    // A handshake under way keeps sharing on; its end arms the hold again.
    if (this.newcomers > 0) return;
    const left = this.sharedUntil - Date.now();
    if (left > 0) {
      this.holdTimer = setTimeout(this.onHoldOver, left);
      this.holdTimer.unref();
      return;
    }
    // Those still waiting are answered all together in this turn's check phase, already scheduled for them.
    this.sharing = false;
  }

  /** A frame reader is about to deliver one read's frames. */
  readOpened(): void {
    this.readOpen = true;
  }

  /** The read's frames are all delivered: the answers it may start in this turn run now, in the order scheduled. */
  readClosed(): void {
    this.readOpen = false;
    // A read delivered while this read's answers run (none is known to be, but an answer may one day close a socket
    // and make ws pass on what it had buffered) only adds its runners to the list being run.
    if (this.runningReadAnswers) return;
    const runners = this.ofThisRead;
    if (runners.length === 0) return;
    this.runningReadAnswers = true;
    let i = 0;
    try {
      for (; i < runners.length; i++) runners[i]?.runHeld();
    } finally {
      // Should an answer throw, the read's other connections are still answered, each in a tick of its own as
      // without a scope. The array is kept for the next read.
      for (i++; i < runners.length; i++) process.nextTick(runHeldOf, runners[i]);
      runners.length = 0;
      this.runningReadAnswers = false;
    }
  }

  /** Connections in their opening handshake, as told by `handshakeStarted`/`handshakeEnded` (for tests). */
  get handshakesUnderWay(): number {
    return this.newcomers;
  }

  /** Connections waiting for a later turn (for status and tests). */
  get waitingCount(): number {
    return this.waiting.length - this.head;
  }

  /** The check phase, after the poll: a new turn's budget, spent first on those waiting longest. */
  private turnEnd(): void {
    this.turnEndScheduled = false;
    this.budget = this.perTurn;
    // Not sharing (nobody getting in, the hold over): every connection waiting is answered in this turn.
    while (this.head < this.waiting.length && (this.budget > 0 || !this.sharing)) {
      const runner = this.waiting[this.head];
      this.waiting[this.head++] = undefined as unknown as AnswerTurnRunner;
      if (this.budget > 0) this.budget--;
      runner.runHeld();
    }
    if (this.head === this.waiting.length) {
      this.waiting = [];
      this.head = 0;
    } else {
      if (this.head > 4096) {
        // Drop the answered prefix now and then instead of shifting the array per answer.
        this.waiting = this.waiting.slice(this.head);
        this.head = 0;
      }
      // More wait: the next turn polls sockets (and accepts one connection) before answering them.
      this.turnEndScheduled = true;
      setImmediate(this.onTurnEnd);
    }
  }
}

function runHeldOf(runner: AnswerTurnRunner): void {
  runner.runHeld();
}

/** One per process: the event loop whose turns it shares is the process's. */
export const answerTurns = new AnswerTurns();
