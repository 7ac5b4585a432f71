// An attention heatmap as a standalone SVG: target tokens down the left (one row per generated
// token), source tokens across the top (one column each), a cell's darkness its weight. Labels
// are escaped for XML, and invisible tokens (spaces, control characters) are shown visibly, so
// any tokenizer's output gives a well-formed, readable file.

const CELL = 22;
const FONT = 12;
const CHAR_W = 7.5;  // a monospace character's advance at FONT px, for laying out labels

/** Escapes text for XML content and attribute values, dropping what XML 1.0 cannot carry. */
export function escapeXml(s: string): string {
  let out = '';
  for (const ch of s) {
    const c = ch.codePointAt(0)!;
    if (ch === '&') out += '&amp;';
    else if (ch === '<') out += '&lt;';
    else if (ch === '>') out += '&gt;';
    else if (ch === '"') out += '&quot;';
    else if (ch === "'") out += '&apos;';
    else if ((c < 0x20 && c !== 0x09 && c !== 0x0a && c !== 0x0d) || (c >= 0xd800 && c <= 0xdfff) || c === 0xfffe || c === 0xffff) out += '\uFFFD';
    else out += ch;
  }
  return out;
}

/** A token as a label: whitespace and control characters made visible, very long tokens shortened. */
function label(tok: string): string {
  let s = '';
  for (const ch of tok) {
    const c = ch.codePointAt(0)!;
    if (ch === ' ') s += '\u2423';                    // OPEN BOX for a space
    else if (ch === '\n') s += '\u21B5';
    else if (ch === '\t') s += '\u21E5';
    else if (c < 0x20 || c === 0x7f) s += `\\x${c.toString(16).padStart(2, '0')}`;
    else s += ch;
  }
  if (s.length === 0) s = '\u2205';                     // an empty token
  const chars = [...s];
  return chars.length > 24 ? chars.slice(0, 23).join('') + '\u2026' : s;
}

/** White (0) to dark blue (1). */
function color(w: number): string {
  const t = Number.isFinite(w) ? Math.min(1, Math.max(0, w)) : 0;
  const mix = (a: number, b: number): number => Math.round(a + (b - a) * t);
  return `rgb(${mix(255, 8)},${mix(255, 48)},${mix(255, 107)})`;
}

/**
 * SVG of cross-attention weights: weights[i][j] is how much target token i attended to source
 * token j (rows of generate's `attention` with returnAttention: true).
 */
export function attentionSvg(srcTokens: readonly string[], tgtTokens: readonly string[], weights: readonly ArrayLike<number>[]): string {
  if (weights.length !== tgtTokens.length)
    throw new RangeError(`attentionSvg: weights has ${weights.length} rows, one per target token (${tgtTokens.length}) is needed`);
  weights.forEach((row, i) => {
    if (row.length !== srcTokens.length) throw new RangeError(`attentionSvg: weights[${i}] has ${row.length} entries, one per source token (${srcTokens.length}) is needed`);
  });
  const src = srcTokens.map(label), tgt = tgtTokens.map(label);
  const left = Math.ceil(Math.max(4, ...tgt.map((t) => [...t].length)) * CHAR_W) + 16;
  // Source labels are rotated -60 degrees: their height is about their length * sin(60).
  const top = Math.ceil(Math.max(4, ...src.map((t) => [...t].length)) * CHAR_W * 0.87) + 28;
  const width = left + src.length * CELL + 10, height = top + tgt.length * CELL + 10;
  const out: string[] = [];
  out.push(`<?xml version="1.0" encoding="UTF-8"?>`);
  out.push(`<svg xmlns="http://www.w3.org/2000/svg" width="${width}" height="${height}" viewBox="0 0 ${width} ${height}" font-family="monospace" font-size="${FONT}">`);
  out.push(`<title>Cross-attention: ${tgt.length} target tokens (rows) by ${src.length} source tokens (columns)</title>`);
  out.push(`<rect width="${width}" height="${height}" fill="white"/>`);
  out.push(`<text x="4" y="14" font-size="${FONT - 1}" fill="#555">source \u2192</text>`);
  out.push(`<text x="4" y="${top - 6}" font-size="${FONT - 1}" fill="#555">target \u2193</text>`);
  out.push(`<g class="source-labels">`);
  src.forEach((t, j) => {
    const x = left + j * CELL + CELL / 2 + 4, y = top - 6;
    out.push(`<text x="${x}" y="${y}" transform="rotate(-60 ${x} ${y})">${escapeXml(t)}</text>`);
  });
  out.push(`</g>`);
  out.push(`<g class="target-labels" text-anchor="end">`);
  tgt.forEach((t, i) => out.push(`<text x="${left - 6}" y="${top + i * CELL + CELL / 2 + FONT / 3}">${escapeXml(t)}</text>`));
  out.push(`</g>`);
  out.push(`<g class="cells" stroke="#ddd" stroke-width="0.5">`);
  weights.forEach((row, i) => {
    for (let j = 0; j < src.length; ++j) {
      const w = row[j]!;
      out.push(`<rect x="${left + j * CELL}" y="${top + i * CELL}" width="${CELL}" height="${CELL}" fill="${color(w)}">` +
        `<title>${escapeXml(`${tgt[i]} \u2192 ${src[j]}: ${Number.isFinite(w) ? w.toFixed(3) : String(w)}`)}</title></rect>`);
    }
  });
  out.push(`</g>`);
  out.push(`</svg>`);
  return out.join('\n') + '\n';
}
