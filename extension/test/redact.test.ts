import assert from 'node:assert/strict';
import { test } from 'node:test';
import { redactSecrets } from '../src/common/redact';

test('known keys are replaced wherever they appear', () => {
  const text =
    'sending {"command":"evoselfcode.setApiKeys","arguments":[{"x":"sk-abc123"}]} key=sk-abc123';
  const out = redactSecrets(text, ['sk-abc123']);
  assert.ok(!out.includes('sk-abc123'));
  assert.equal(out.split('***').length - 1, 2);
});

test('a key that contains another key is hidden whole', () => {
  const out = redactSecrets('token sk-long-key-xyz here', ['sk-long', 'sk-long-key-xyz']);
  assert.equal(out, 'token *** here');
});

test('bearer tokens and key-shaped JSON fields are hidden even when unknown', () => {
  const out = redactSecrets(
    'Authorization: Bearer abc.def-123 {"generator": "g-key", "verifier":"v-key"}',
    [],
  );
  assert.ok(!out.includes('abc.def-123'));
  assert.ok(!out.includes('g-key'));
  assert.ok(!out.includes('v-key'));
  assert.match(out, /Bearer \*\*\*/);
});

test('text without secrets is unchanged', () => {
  const text = 'Model ready: smoke-model on cpu (generator model: qwen)';
  assert.equal(redactSecrets(text, [undefined, '']), text);
});
