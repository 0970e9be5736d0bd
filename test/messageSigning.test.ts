/**
 * The signing module alone: where the key comes from (environment, or a file generated once on the
 * embedded default), which keys are refused, and that a signature covers every field it claims to.
 */
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import {
  MessageSigner,
  SIGNED_MESSAGE,
  SigningKeyError,
  canonicalJson,
  signingKeyFromEnvironment,
  updatePurpose,
} from '../service/messageSigning';

const REQUEST_ID = 'req_01JABCDEFGHJKMNPQRSTVWXYZ0';

describe('message signing', () => {
  let dir: string;

  beforeEach(() => {
    dir = fs.mkdtempSync(path.join(os.tmpdir(), 'p0-signing-'));
  });
  afterEach(() => fs.rmSync(dir, { recursive: true, force: true }));

  describe('the key', () => {
    it('is read from P0_SIGNING_KEY in base64 or hex', () => {
      const key = randomBytes(32);
      const fromBase64 = signingKeyFromEnvironment({ env: { P0_SIGNING_KEY: key.toString('base64') }, keyFileDir: dir });
      const fromHex = signingKeyFromEnvironment({ env: { P0_SIGNING_KEY: key.toString('hex') }, keyFileDir: dir });
      assert.deepEqual(fromBase64.key, key);
      assert.deepEqual(fromHex.key, key);
      assert.equal(fromBase64.source, 'P0_SIGNING_KEY');
      // No key file is written when the environment names the key.
      assert.deepEqual(fs.readdirSync(dir), []);
    });

    it('refuses a key shorter than 32 bytes, and text that is neither base64 nor hex', () => {
      assert.throws(
        () => signingKeyFromEnvironment({ env: { P0_SIGNING_KEY: randomBytes(31).toString('base64') }, keyFileDir: dir }),
        (error: unknown) => error instanceof SigningKeyError && /P0_SIGNING_KEY.*31 bytes.*at least 32/.test(error.message),
      );
      assert.throws(
        () => signingKeyFromEnvironment({ env: { P0_SIGNING_KEY: 'correct horse battery staple, but not a key at all!' }, keyFileDir: dir }),
        (error: unknown) => error instanceof SigningKeyError && /base64 or hex/.test(error.message),
      );
    });

    it('is generated once into <data>/signing.key (0600, directory 0700) and reused', () => {
      const data = path.join(dir, 'data');
      const first = signingKeyFromEnvironment({ env: {}, keyFileDir: data });
      const file = path.join(data, 'signing.key');
      assert.equal(first.source, file);
      assert.equal(first.key.length, 32);
      assert.equal(fs.statSync(file).mode & 0o777, 0o600);
      assert.equal(fs.statSync(data).mode & 0o777, 0o700);
      // A second process on the same machine (npm run api beside npm run worker) gets the same key.
      const second = signingKeyFromEnvironment({ env: {}, keyFileDir: data });
      assert.deepEqual(second.key, first.key);
    });

    it('refuses a key file that others can read', () => {
      signingKeyFromEnvironment({ env: {}, keyFileDir: dir });
      fs.chmodSync(path.join(dir, 'signing.key'), 0o644);
      assert.throws(
        () => signingKeyFromEnvironment({ env: {}, keyFileDir: dir }),
        (error: unknown) => error instanceof SigningKeyError && /readable by others.*chmod 600/.test(error.message),
      );
    });

    it('is required from the environment when there is no embedded data directory (PostgreSQL)', () => {
      assert.throws(
        () => signingKeyFromEnvironment({ env: {}, keyFileDir: undefined }),
        (error: unknown) => error instanceof SigningKeyError && /P0_SIGNING_KEY is not set/.test(error.message),
      );
    });
  });

  describe('signatures', () => {
    const signer = new MessageSigner(randomBytes(32));
    const approval = { actor: 'bob@example.com', comment: 'go ahead' };

    it('verify what was signed, whatever the order of its keys or undefined fields', () => {
      const signature = signer.sign(updatePurpose('approve'), REQUEST_ID, approval);
      assert.ok(signer.verify(updatePurpose('approve'), REQUEST_ID, { comment: 'go ahead', actor: 'bob@example.com', extra: undefined }, signature));
      assert.equal(canonicalJson({ b: [1, { d: 1, c: 2 }], a: undefined }), '{"b":[1,{"c":2,"d":1}]}');
    });

    it('detect a changed field, another request, another message, another key, or no signature at all', () => {
      const signature = signer.sign(updatePurpose('approve'), REQUEST_ID, approval);
      assert.equal(signer.verify(updatePurpose('approve'), REQUEST_ID, { ...approval, actor: 'mallory@example.com' }, signature), false);
      assert.equal(signer.verify(updatePurpose('approve'), REQUEST_ID, { ...approval, comment: 'go' }, signature), false);
      assert.equal(signer.verify(updatePurpose('approve'), REQUEST_ID, { ...approval, expects: 'x' }, signature), false);
      assert.equal(signer.verify(updatePurpose('approve'), 'req_01JABCDEFGHJKMNPQRSTVWXYZ1', approval, signature), false);
      assert.equal(signer.verify(updatePurpose('deny'), REQUEST_ID, approval, signature), false);
      assert.equal(signer.verify(SIGNED_MESSAGE.request, REQUEST_ID, approval, signature), false);
      assert.equal(new MessageSigner(randomBytes(32)).verify(updatePurpose('approve'), REQUEST_ID, approval, signature), false);
      for (const bad of [undefined, '', 'v1.', 'v1.AAAA', 42, signature.slice(0, -2)]) {
        assert.equal(signer.verify(updatePurpose('approve'), REQUEST_ID, approval, bad), false, String(bad));
      }
    });

    it('cover a message without its own signature field (signMessage / verifyMessage)', () => {
      const signed = signer.signMessage(updatePurpose('approve'), REQUEST_ID, approval);
      assert.equal(typeof signed.signature, 'string');
      assert.ok(signer.verifyMessage(updatePurpose('approve'), REQUEST_ID, signed));
      assert.equal(signer.verifyMessage(updatePurpose('approve'), REQUEST_ID, { ...signed, actor: 'dana@example.com' }), false);
      assert.equal(signer.verifyMessage(updatePurpose('approve'), REQUEST_ID, approval), false);
    });
  });
});
