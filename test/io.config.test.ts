// Seq2SeqConfig: defaults, validation (types, ranges, enums, cross-field rules), unknown fields
// named with a suggestion, and config.json read/write.
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { CONFIG_DEFAULTS, readConfig, validateConfig, writeConfig, type Seq2SeqConfig } from '../dist/io/index.js';

const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'attnode-config-'));
afterAll(() => fs.rmSync(tmp, { recursive: true, force: true }));
const base = { srcVocab: 100, tgtVocab: 120 };

describe('validateConfig', () => {
  it('fills defaults, derives kvHeads, ffDim and decoderStartId, and freezes the result', () => {
    const c = validateConfig(base);
    const expected: Seq2SeqConfig = {
      srcVocab: 100, tgtVocab: 120, dModel: 512, heads: 8, kvHeads: 8, ffDim: 2048, encoderLayers: 6, decoderLayers: 6,
      dropout: 0.1, attentionDropout: 0, activation: 'relu', norm: 'pre', positions: 'sinusoidal',
      tieEmbeddings: true, scaleEmbedding: true, maxLen: 512, seed: 0, padId: 0, bosId: 1, eosId: 2, decoderStartId: 1,
    };
    expect(c).toEqual(expected);
    expect(Object.keys(c)).toEqual(Object.keys(expected)); // fixed field order
    expect(Object.isFrozen(c)).toBe(true);
    expect(validateConfig({ ...base, dModel: 64, heads: 4, bosId: 7 })).toMatchObject({ kvHeads: 4, ffDim: 256, decoderStartId: 7 });
    expect(validateConfig({ ...base, heads: 4, kvHeads: undefined }).kvHeads).toBe(4); // undefined = not given
    expect(CONFIG_DEFAULTS.norm).toBe('pre');
  });

  it('keeps every given field', () => {
    const given = {
      srcVocab: 50, tgtVocab: 60, dModel: 48, heads: 6, kvHeads: 2, ffDim: 100, encoderLayers: 1, decoderLayers: 3,
      dropout: 0, attentionDropout: 0.5, activation: 'silu', norm: 'post', positions: 'learned',
      tieEmbeddings: false, scaleEmbedding: false, maxLen: 9, seed: 2 ** 53 - 1, padId: 49, bosId: 59, eosId: 0, decoderStartId: 49,
    } as const;
    expect(validateConfig(given)).toEqual(given);
  });

  it('unknown fields are errors naming the field, with the closest known one', () => {
    expect(() => validateConfig({ ...base, d_model: 8 })).toThrow(TypeError);
    expect(() => validateConfig({ ...base, d_model: 8 })).toThrow(/^config\.d_model is not a known field \(did you mean dModel\?\); known: srcVocab, tgtVocab/);
    expect(() => validateConfig({ ...base, dmodle: 8 })).toThrow(/config\.dmodle is not a known field \(did you mean dModel\?\)/);
    expect(() => validateConfig({ ...base, numLayers: 8 })).toThrow(/config\.numLayers is not a known field;/);
    expect(() => validateConfig({ ...base, encoder_layers: 2 })).toThrow(/did you mean encoderLayers\?/);
  });

  const cases: [string, Record<string, unknown>, typeof TypeError | typeof RangeError, RegExp][] = [
    ['not an object', [] as never, TypeError, /^config must be an object, got an array/],
    ['missing srcVocab', { tgtVocab: 5 }, TypeError, /^config\.srcVocab is required/],
    ['size type', { ...base, heads: '8' }, TypeError, /^config\.heads must be a number, got "8"/],
    ['size zero', { ...base, encoderLayers: 0 }, RangeError, /^config\.encoderLayers must be a positive integer .*got 0/],
    ['size fraction', { ...base, dModel: 32.5 }, RangeError, /^config\.dModel must be a positive integer/],
    ['size NaN', { ...base, maxLen: NaN }, RangeError, /^config\.maxLen must be a positive integer .*got NaN/],
    ['vocab too big', { ...base, srcVocab: 2 ** 31 }, RangeError, /^config\.srcVocab must be a positive integer \(at most 2147483647\)/],
    ['dropout 1', { ...base, dropout: 1 }, RangeError, /^config\.dropout must be in \[0, 1\), got 1/],
    ['dropout negative', { ...base, attentionDropout: -0.1 }, RangeError, /^config\.attentionDropout must be in \[0, 1\)/],
    ['dropout NaN', { ...base, dropout: NaN }, RangeError, /^config\.dropout must be in \[0, 1\), got NaN/],
    ['dropout type', { ...base, dropout: null }, TypeError, /^config\.dropout must be a number, got null/],
    ['enum value', { ...base, activation: 'tanh' }, RangeError, /^config\.activation must be one of 'relu', 'gelu', 'geluTanh', 'silu', got "tanh"/],
    ['enum type', { ...base, norm: 1 }, TypeError, /^config\.norm must be one of 'post', 'pre', got 1/],
    ['positions', { ...base, positions: 'rope' }, RangeError, /^config\.positions must be one of 'sinusoidal', 'learned'/],
    ['bool', { ...base, tieEmbeddings: 'yes' }, TypeError, /^config\.tieEmbeddings must be a boolean, got "yes"/],
    ['seed negative', { ...base, seed: -1 }, RangeError, /^config\.seed must be a non-negative safe integer/],
    ['seed unsafe', { ...base, seed: 2 ** 53 }, RangeError, /^config\.seed must be a non-negative safe integer/],
    ['heads divide dModel', { ...base, dModel: 30, heads: 4 }, RangeError, /^config\.heads \(4\) must divide config\.dModel \(30\)/],
    ['kvHeads divide heads', { ...base, heads: 8, kvHeads: 3 }, RangeError, /^config\.kvHeads \(3\) must divide config\.heads \(8\)/],
    ['pad beyond src vocab', { ...base, padId: 100 }, RangeError, /^config\.padId \(100\) must be below both vocabulary sizes \(100\)/],
    ['bos beyond tgt vocab', { ...base, bosId: 120 }, RangeError, /^config\.bosId \(120\) must be below config\.tgtVocab \(120\)/],
    ['id negative', { ...base, eosId: -1 }, RangeError, /^config\.eosId must be a non-negative integer token id/],
  ];
  it.each(cases)('%s', (_name, obj, Err, re) => {
    expect(() => validateConfig(obj)).toThrow(Err);
    expect(() => validateConfig(obj)).toThrow(re);
  });

  it('bos may be beyond the source vocabulary (it is a target token)', () => {
    expect(validateConfig({ srcVocab: 10, tgtVocab: 20, bosId: 15, decoderStartId: 16 }).bosId).toBe(15);
  });
});

describe('config.json', () => {
  it('writes the complete config and reads it back equal', async () => {
    const f = path.join(tmp, 'config.json');
    const written = await writeConfig(f, { ...base, dModel: 64, heads: 4, norm: 'post' });
    expect(JSON.parse(fs.readFileSync(f, 'utf8'))).toEqual(written);
    expect(await readConfig(f)).toEqual(written);
  });

  it('errors name the file and the field', async () => {
    const f = path.join(tmp, 'bad.json');
    fs.writeFileSync(f, JSON.stringify({ ...base, dModle: 4 }));
    await expect(readConfig(f)).rejects.toThrow(`${f}: config.dModle is not a known field (did you mean dModel?)`);
    fs.writeFileSync(f, '{"srcVocab": 1,');
    await expect(readConfig(f)).rejects.toThrow(new RegExp(`^${f}: not valid JSON`));
    await expect(writeConfig(f, { ...base, dropout: 2 })).rejects.toThrow(/config\.dropout must be in \[0, 1\)/);
  });
});

describe('names that every object has', () => {
  it('Object.prototype members are not fields', () => {
    expect(() => validateConfig({ ...base, toString: 1 })).toThrow(/config\.toString is not a known field/);
    expect(() => validateConfig(JSON.parse('{"srcVocab":5,"tgtVocab":5,"__proto__":{"dModel":4}}'))).toThrow(/config\.__proto__ is not a known field/);
  });
});
