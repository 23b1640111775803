import type { Gateway } from '../gateway/gateway.js';

/** The part of the gateway the admin API reads and drives; nothing else of it is reachable from here. */
export type AdminGateway = Pick<Gateway, 'id' | 'config' | 'log' | 'metrics' | 'sessions' | 'commands' | 'bus' | 'isReady' | 'readiness' | 'isAccepting' | 'recorder'>;
