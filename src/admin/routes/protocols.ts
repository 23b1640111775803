import type { FastifyInstance } from 'fastify';
import { actionsOf } from '../../ocpp/catalogue.js';
import { loadOcppSchemas } from '../../ocpp/schemas.js';
import { OCPP_VERSIONS, type OcppVersion } from '../../ocpp/versions.js';
import { COMMON_ERRORS } from '../schemas.js';

interface CommandSchema {
  action: string;
  requestSchema: Record<string, unknown>;
}

/**
 * Every command of a version with the request schema the gateway checks it with (src/ocpp/validation.ts compiles
 * the same objects, without their `$id`: the files' `urn:` ids are not URIs a validator can resolve, and every
 * `$ref` in them is local). Built once per version: the schemas never change while the process runs.
 */
function commandsOf(version: OcppVersion): CommandSchema[] {
  const table = loadOcppSchemas()[version];
  return actionsOf(version, 'centralToCharger').map((action) => {
    const schemas = table.get(action);
    if (schemas === undefined) throw new Error(`no schema for ${version} ${action}`);
    const { $id: _id, ...requestSchema } = schemas.request;
    return { action, requestSchema };
  });
}

/** The commands a form may offer per OCPP version, with the schema to check a payload against before sending. */
export function protocolRoutes(app: FastifyInstance): void {
  const byVersion = new Map<OcppVersion, string>();
  // Serialized once: some 30 schemas a version, the same bytes for every request.
  for (const version of OCPP_VERSIONS) byVersion.set(version, JSON.stringify({ protocol: version, commands: commandsOf(version) }));

  app.get<{ Params: { protocol: OcppVersion } }>(
    '/api/v1/protocols/:protocol/commands',
    {
      schema: {
        tags: ['commands'],
        summary: 'Every action the central system may send to a charger of this OCPP version, with its request schema',
        description:
          'requestSchema is the JSON schema (draft-07) the gateway validates the payload of `POST /api/v1/charge-points/{id}/calls` with; ' +
          'a payload it accepts passes the gateway check (the charger may still refuse it).',
        params: {
          type: 'object',
          required: ['protocol'],
          properties: { protocol: { type: 'string', enum: [...OCPP_VERSIONS] } },
        },
        response: {
          200: {
            description: 'The commands, sorted by action',
            content: {
              'application/json': {
                schema: {
                  type: 'object',
                  required: ['protocol', 'commands'],
                  properties: {
                    protocol: { type: 'string' },
                    commands: {
                      type: 'array',
                      items: {
                        type: 'object',
                        required: ['action', 'requestSchema'],
                        properties: { action: { type: 'string' }, requestSchema: { type: 'object', additionalProperties: true } },
                      },
                    },
                  },
                },
              },
            },
          },
          ...COMMON_ERRORS,
        },
      },
    },
    async (request, reply) => reply.header('content-type', 'application/json; charset=utf-8').send(byVersion.get(request.params.protocol)),
  );
}
