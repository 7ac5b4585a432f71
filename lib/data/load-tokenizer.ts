// Load a tokenizer whose kind is only known from its JSON (a checkpoint's tokenizer file).
import { CharTokenizer } from './char.js';
import { WordTokenizer } from './word.js';
import { parseTokenizerJSON, type Tokenizer } from './tokenizer.js';

/** A CharTokenizer or WordTokenizer from what `toJSON()` wrote; throws naming a bad field. */
export function tokenizerFromJSON(json: unknown): Tokenizer {
  const j = parseTokenizerJSON(json);
  return j.type === 'char' ? CharTokenizer.fromJSON(j) : WordTokenizer.fromJSON(j);
}
