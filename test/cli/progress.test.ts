/** The bulk progress bar: drawn on a terminal, absent elsewhere. */
import assert from 'node:assert/strict';
import { Writable } from 'node:stream';
import { test } from 'node:test';
import { progressReporter } from '../../src/cli/progress.js';

/** A stream that records what is written and claims to be a terminal (or not). */
function fakeStream(isTTY: boolean): NodeJS.WriteStream & { text: () => string } {
  const chunks: string[] = [];
  const stream = new Writable({
    write(chunk: Buffer, _enc, done) {
      chunks.push(chunk.toString());
      done();
    },
  }) as unknown as NodeJS.WriteStream & { text: () => string };
  Object.assign(stream, {
    isTTY,
    columns: 80,
    cursorTo: () => true,
    clearLine: () => true,
    moveCursor: () => true,
  });
  stream.text = () => chunks.join('');
  return stream;
}

test('on a terminal, each batch redraws the bar with the count and percentage', () => {
  const stream = fakeStream(true);
  const p = progressReporter('delete archived', stream);
  try {
    p.onProgress?.({ done: 1000, total: 2500 });
    assert.match(stream.text(), /delete archived \[=+-+\] 1000\/2500 \(40%\)/);
    p.onProgress?.({ done: 2000, total: 2500 });
  } finally {
    // Redraws are throttled; stop() draws the last state, then clears the line.
    p.stop();
  }
  assert.match(stream.text(), /delete archived \[=+-+\] 2000\/2500 \(80%\)/);
});

test('elsewhere nothing is drawn and no listener is passed to the Inspector', () => {
  const stream = fakeStream(false);
  const p = progressReporter('delete archived', stream);
  assert.equal(p.onProgress, undefined);
  p.stop();
  assert.equal(stream.text(), '');
});
