import assert from 'node:assert/strict';
import { test } from 'node:test';

import { startJourney, traceparent } from '../../src/js/lib/trace.js';

test('no traceparent outside a journey', () => {
  assert.equal(traceparent(), '');
});

test('a journey keeps its trace id and gives each request a span of its own', () => {
  const id = startJourney();
  assert.match(id, /^[0-9a-f]{32}$/);
  const a = traceparent();
  const b = traceparent();
  for (const tp of [a, b]) assert.match(tp, new RegExp(`^00-${id}-[0-9a-f]{16}-01$`));
  assert.notEqual(a.split('-')[2], b.split('-')[2]);
  assert.notEqual(startJourney(), id);
});
