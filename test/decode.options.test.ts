// Bad options and sources are rejected before any work, by a TypeError or RangeError naming them.
import { describe, expect, it } from 'vitest';
import { generate } from '../dist/decode/index.js';
import { tinyModel } from './helpers/decode.js';

describe('generate rejects bad options by name', () => {
  const model = tinyModel(1, { maxLen: 16 });
  const src = [[3, 4, 2]];
  const cases: [string, object, ErrorConstructor, RegExp][] = [
    ['numBeams 0', { numBeams: 0 }, RangeError, /numBeams/],
    ['numBeams 1.5', { numBeams: 1.5 }, RangeError, /numBeams/],
    ['numBeams as a string', { numBeams: '4' }, TypeError, /numBeams/],
    ['topP > 1', { doSample: true, topP: 1.5 }, RangeError, /topP/],
    ['topP 0', { doSample: true, topP: 0 }, RangeError, /topP/],
    ['negative temperature', { doSample: true, temperature: -1 }, RangeError, /temperature/],
    ['temperature 0', { doSample: true, temperature: 0 }, RangeError, /temperature/],
    ['NaN temperature', { temperature: NaN }, RangeError, /temperature/],
    ['maxNewTokens beyond the position table', { maxNewTokens: 17 }, RangeError, /maxNewTokens.*maxLen|position/],
    ['maxNewTokens 0', { maxNewTokens: 0 }, RangeError, /maxNewTokens/],
    ['minNewTokens above maxNewTokens', { maxNewTokens: 4, minNewTokens: 5 }, RangeError, /minNewTokens/],
    ['forceEos not a boolean', { forceEos: 1 }, TypeError, /forceEos/],
    ['suppressTokens not an array', { suppressTokens: 3 }, TypeError, /suppressTokens/],
    ['suppressTokens outside the vocabulary', { suppressTokens: [1, 1000] }, RangeError, /suppressTokens\[1\]/],
    ['suppressTokens not integers', { suppressTokens: [0.5] }, RangeError, /suppressTokens\[0\]/],
    ['forceFirstToken outside the vocabulary', { forceFirstToken: -1 }, RangeError, /options\.forceFirstToken must be a token id/],
    ['negative topK', { doSample: true, topK: -1 }, RangeError, /topK/],
    ['repetitionPenalty 0', { repetitionPenalty: 0 }, RangeError, /repetitionPenalty/],
    ['negative noRepeatNgramSize', { noRepeatNgramSize: -2 }, RangeError, /noRepeatNgramSize/],
    ['numReturnSequences above numBeams', { numBeams: 2, numReturnSequences: 3 }, RangeError, /numReturnSequences/],
    ['numReturnSequences 2 in greedy search', { numReturnSequences: 2 }, RangeError, /numReturnSequences/],
    ['earlyStopping "sometimes"', { numBeams: 2, earlyStopping: 'sometimes' }, TypeError, /earlyStopping/],
    ['lengthPenalty Infinity', { lengthPenalty: Infinity }, RangeError, /lengthPenalty/],
    ['beam sampling', { numBeams: 2, doSample: true }, RangeError, /doSample.*numBeams/],
    ['seed 1.5', { doSample: true, seed: 1.5 }, RangeError, /seed/],
    ['signal that is not an AbortSignal', { signal: {} }, TypeError, /signal/],
    ['tokenizer without decode', { tokenizer: { encode: () => [] } }, TypeError, /tokenizer/],
    ['a misspelled option', { num_beams: 4 }, TypeError, /num_beams/],
  ];
  for (const [name, opts, type, msg] of cases) {
    it(name, async () => {
      const p = generate(model, src, opts as never);
      await expect(p).rejects.toBeInstanceOf(type);
      await expect(p).rejects.toThrow(msg);
    });
  }

  it('bad sources', async () => {
    await expect(generate(model, [])).rejects.toThrow(RangeError);
    await expect(generate(model, [[3, 99, 2]])).rejects.toThrow(/src\[0\]\[1\] = 99/);
    await expect(generate(model, [[3, 2], []])).rejects.toThrow(/src\[1\]/);
    await expect(generate(model, [new Array(17).fill(3)])).rejects.toThrow(/maxLen/);
    await expect(generate(model, ['abc'])).rejects.toThrow(/tokenizer/);
    await expect(generate(model, [[3, 1.5]])).rejects.toThrow(RangeError);
  });

  it('maxNewTokens up to the position table is fine', async () => {
    const out = await generate(model, src, { maxNewTokens: 16, minNewTokens: 16 });
    expect(out.tokens[0]!.length).toBe(16);
  });
});
