/**
 * Why a CALL the gateway sent to a charger did not complete. The codes are the command contract's
 * (DESIGN.md §4) so the API and the events can pass them on unchanged.
 */
export type CallFailureCode = 'DEVICE_OFFLINE' | 'TIMEOUT' | 'CALL_ERROR' | 'QUEUE_FULL' | 'INVALID_COMMAND_PAYLOAD' | 'INVALID_RESPONSE';

export class CallFailure extends Error {
  override name = 'CallFailure';
  constructor(
    readonly code: CallFailureCode,
    message: string,
    readonly ocppErrorCode?: string,
    readonly ocppErrorDetails?: Record<string, unknown>,
  ) {
    super(message);
  }
}
