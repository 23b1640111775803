import type { FastifyInstance, FastifyReply } from 'fastify';
import { DEFAULT_DURATION_SECONDS, DEFAULT_MAX_FRAMES } from '../../gateway/flight-recorder.js';
import { RegistryUnavailableError } from '../../registry/types.js';
import { errorBody } from '../api-errors.js';
import type { RecorderDirectory, RecorderOutcome } from '../recorder-directory.js';
import { COMMON_ERRORS, errorResponse } from '../schemas.js';
import { chargePointIdParams } from './charge-points.js';

interface RecordingBody {
  durationSeconds?: number;
  maxFrames?: number;
}

const STATUS_BY_CODE = { DEVICE_OFFLINE: 404, NOT_RECORDING: 404, RECORDER_FULL: 429, UNAVAILABLE: 503 } as const;

const NOT_RECORDING = errorResponse('NOT_RECORDING: the charger has no recording (never started, or freed recorder.retainMs after it ended)');
const UNAVAILABLE = errorResponse('UNAVAILABLE: cluster mode, the registry or the instance with the recording did not answer; `instance` names it');

/** A character a quoted filename may hold as it is; anything else becomes "_". */
function safeFilename(identity: string): string {
  return `${identity.replace(/[^A-Za-z0-9._-]/g, '_')}-frames.jsonl`;
}

/**
 * The flight recorder: start, stop, read and download the raw frames of one charger (docs/flight-recorder.md).
 * In cluster mode the directory reaches the instance that holds the charger or its recording.
 */
export function recorderRoutes(app: FastifyInstance, directory: RecorderDirectory): void {
  const send = <T>(reply: FastifyReply, outcome: RecorderOutcome<T>, id: string): T | FastifyReply => {
    if ('ok' in outcome) return outcome.ok;
    const { code, message, instance } = outcome.error;
    return reply.code(STATUS_BY_CODE[code] ?? 500).send(errorBody(code, message, { chargePointId: id, ...(instance !== undefined ? { instance } : {}) }));
  };
  const attempt = async <T>(reply: FastifyReply, run: () => Promise<RecorderOutcome<T>>, id: string): Promise<T | FastifyReply> => {
    try {
      return send(reply, await run(), id);
    } catch (err) {
      if (err instanceof RegistryUnavailableError) return reply.code(503).send(errorBody('UNAVAILABLE', err.message));
      throw err;
    }
  };

  app.put<{ Params: { id: string }; Body: RecordingBody | undefined }>(
    '/api/v1/charge-points/:id/recording',
    {
      // A PUT without a body takes the defaults; validation would otherwise refuse "nothing" as not an object.
      preValidation: async (request) => {
        if (request.body === undefined || request.body === null) request.body = {};
      },
      schema: {
        tags: ['flight recorder'],
        summary: "Starts recording a connected charger's raw frames (a new recording replaces the old one's frames)",
        params: chargePointIdParams,
        body: { $ref: 'RecordingRequest#' },
        description: 'The body may be left out: the defaults apply.',
        response: {
          200: { $ref: 'RecordingStatus#' },
          ...COMMON_ERRORS,
          404: errorResponse('DEVICE_OFFLINE: the charger is not connected'),
          429: errorResponse('RECORDER_FULL: recorder.maxChargers chargers record already, or the recordings hold recorder.maxTotalBytes'),
          503: UNAVAILABLE,
        },
      },
    },
    async (request, reply) => {
      const id = request.params.id;
      const durationSeconds = request.body?.durationSeconds ?? DEFAULT_DURATION_SECONDS;
      const maxFrames = request.body?.maxFrames ?? DEFAULT_MAX_FRAMES;
      return attempt(reply, () => directory.start(id, durationSeconds, maxFrames), id);
    },
  );

  app.delete<{ Params: { id: string } }>(
    '/api/v1/charge-points/:id/recording',
    {
      schema: {
        tags: ['flight recorder'],
        summary: 'Stops a recording; its frames stay downloadable for recorder.retainMs',
        params: chargePointIdParams,
        response: { 200: { $ref: 'RecordingStatus#' }, ...COMMON_ERRORS, 404: NOT_RECORDING, 503: UNAVAILABLE },
      },
    },
    async (request, reply) => attempt(reply, () => directory.stop(request.params.id), request.params.id),
  );

  app.get<{ Params: { id: string } }>(
    '/api/v1/charge-points/:id/recording',
    {
      schema: {
        tags: ['flight recorder'],
        summary: 'A recording with its frames, oldest first',
        params: chargePointIdParams,
        response: { 200: { $ref: 'RecordingFrames#' }, ...COMMON_ERRORS, 404: NOT_RECORDING, 503: UNAVAILABLE },
      },
    },
    async (request, reply) => attempt(reply, () => directory.frames(request.params.id), request.params.id),
  );

  app.get<{ Params: { id: string } }>(
    '/api/v1/charge-points/:id/recording.jsonl',
    {
      schema: {
        tags: ['flight recorder'],
        summary: "A recording's frames as JSON Lines, one frame per line, oldest first (a file download)",
        params: chargePointIdParams,
        response: {
          200: { description: 'One RecordedFrame per line', content: { 'application/x-ndjson': { schema: { type: 'string' } } } },
          ...COMMON_ERRORS,
          404: NOT_RECORDING,
          503: UNAVAILABLE,
        },
      },
    },
    async (request, reply) => {
      const id = request.params.id;
      let outcome: Awaited<ReturnType<RecorderDirectory['frames']>>;
      try {
        outcome = await directory.frames(id);
      } catch (err) {
        if (err instanceof RegistryUnavailableError) return reply.code(503).send(errorBody('UNAVAILABLE', err.message));
        throw err;
      }
      if (!('ok' in outcome)) return send(reply, outcome, id);
      const { items } = outcome.ok;
      const body = items.map((frame) => `${JSON.stringify(frame)}\n`).join('');
      return reply
        .header('content-type', 'application/x-ndjson; charset=utf-8')
        .header('content-disposition', `attachment; filename="${safeFilename(id)}"; filename*=UTF-8''${encodeURIComponent(`${id}-frames.jsonl`)}`)
        .send(body);
    },
  );
}
