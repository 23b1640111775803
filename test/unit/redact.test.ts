import assert from 'node:assert/strict';
import { test } from 'node:test';
import { redactConfig } from '../../src/config/redact.js';

test('passwords in the cluster server URLs are redacted, the rest of each URL kept', () => {
  const redacted = redactConfig({
    cluster: {
      natsUrl: 'nats://gw:s3cret@nats-1:4222,nats://gw:other@nats-2:4222',
      redisUrl: 'redis://:hunter2@redis:6379/0',
    },
  });
  assert.deepEqual(redacted, {
    cluster: {
      natsUrl: 'nats://gw:[redacted]@nats-1:4222,nats://gw:[redacted]@nats-2:4222',
      redisUrl: 'redis://:[redacted]@redis:6379/0',
    },
  });
});

test('server URLs without a password are logged as they are', () => {
  const config = { cluster: { natsUrl: 'nats://nats-1:4222', redisUrl: 'redis://user@redis:6379' } };
  assert.deepEqual(redactConfig(config), config);
});
