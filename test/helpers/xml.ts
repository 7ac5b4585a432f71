// A small XML 1.0 well-formedness checker for the SVG tests: one root element, tags properly
// nested and closed, attributes quoted and not repeated, only the five predefined entities or
// character references, no stray '<' or '&', no characters XML forbids. Returns the element tree.

export interface XmlElement {
  name: string;
  attrs: Map<string, string>;
  children: XmlElement[];
  /** Text directly inside, entities decoded. */
  text: string;
}

const NAME = /^[A-Za-z_:][A-Za-z0-9_.:-]*/;
const ENTITIES: Record<string, string> = { amp: '&', lt: '<', gt: '>', quot: '"', apos: "'" };

function decodeText(s: string, where: number): string {
  if (/[<]/.test(s)) throw new SyntaxError(`xml: '<' in text or attribute near ${where}`);
  return s.replace(/&([^;]*);|&/g, (m, name: string | undefined) => {
    if (name === undefined) throw new SyntaxError(`xml: bare '&' near ${where}`);
    if (name in ENTITIES) return ENTITIES[name]!;
    const num = /^#(\d+)$/.exec(name) ?? /^#x([0-9A-Fa-f]+)$/.exec(name);
    if (num) return String.fromCodePoint(parseInt(num[1]!, name[1] === 'x' ? 16 : 10));
    throw new SyntaxError(`xml: unknown entity ${m} near ${where}`);
  });
}

export function parseXml(doc: string): XmlElement {
  // eslint-disable-next-line no-control-regex
  if (/[\u0000-\u0008\u000B\u000C\u000E-\u001F\uFFFE\uFFFF]/.test(doc)) throw new SyntaxError('xml: a character XML 1.0 forbids');
  let i = 0;
  const stack: XmlElement[] = [];
  let root: XmlElement | null = null;
  const skipSpace = (): void => { while (i < doc.length && /\s/.test(doc[i]!)) ++i; };
  if (doc.startsWith('<?xml')) {
    const end = doc.indexOf('?>');
    if (end < 0) throw new SyntaxError('xml: unterminated declaration');
    i = end + 2;
  }
  while (i < doc.length) {
    if (doc[i] !== '<') {
      const next = doc.indexOf('<', i);
      const text = doc.slice(i, next < 0 ? doc.length : next);
      const top = stack[stack.length - 1];
      if (!top) {
        if (text.trim() !== '') throw new SyntaxError(`xml: text outside the root element near ${i}`);
      } else top.text += decodeText(text, i);
      i = next < 0 ? doc.length : next;
      continue;
    }
    if (doc.startsWith('<!--', i)) {
      const end = doc.indexOf('-->', i + 4);
      if (end < 0) throw new SyntaxError('xml: unterminated comment');
      i = end + 3;
      continue;
    }
    if (doc[i + 1] === '/') {
      i += 2;
      const m = NAME.exec(doc.slice(i));
      if (!m) throw new SyntaxError(`xml: bad closing tag near ${i}`);
      i += m[0].length;
      skipSpace();
      if (doc[i] !== '>') throw new SyntaxError(`xml: '>' expected near ${i}`);
      ++i;
      const open = stack.pop();
      if (!open || open.name !== m[0]) throw new SyntaxError(`xml: </${m[0]}> closes ${open ? `<${open.name}>` : 'nothing'}`);
      continue;
    }
    ++i;
    const m = NAME.exec(doc.slice(i));
    if (!m) throw new SyntaxError(`xml: bad tag name near ${i}`);
    i += m[0].length;
    const el: XmlElement = { name: m[0], attrs: new Map(), children: [], text: '' };
    for (;;) {
      const before = i;
      skipSpace();
      if (doc.startsWith('/>', i) || doc[i] === '>') break;
      if (i === before) throw new SyntaxError(`xml: space expected before an attribute near ${i}`);
      const a = NAME.exec(doc.slice(i));
      if (!a) throw new SyntaxError(`xml: bad attribute near ${i}`);
      i += a[0].length;
      skipSpace();
      if (doc[i] !== '=') throw new SyntaxError(`xml: '=' expected near ${i}`);
      ++i;
      skipSpace();
      const q = doc[i];
      if (q !== '"' && q !== "'") throw new SyntaxError(`xml: quoted value expected near ${i}`);
      const end = doc.indexOf(q, i + 1);
      if (end < 0) throw new SyntaxError('xml: unterminated attribute value');
      if (el.attrs.has(a[0])) throw new SyntaxError(`xml: attribute ${a[0]} repeated`);
      el.attrs.set(a[0], decodeText(doc.slice(i + 1, end), i));
      i = end + 1;
    }
    const parent = stack[stack.length - 1];
    if (parent) parent.children.push(el);
    else if (root) throw new SyntaxError('xml: more than one root element');
    else root = el;
    if (doc.startsWith('/>', i)) i += 2;
    else {
      ++i;
      stack.push(el);
    }
  }
  if (stack.length > 0) throw new SyntaxError(`xml: <${stack[stack.length - 1]!.name}> is not closed`);
  if (!root) throw new SyntaxError('xml: no root element');
  return root;
}

/** Every element in document order. */
export function allElements(e: XmlElement): XmlElement[] {
  return [e, ...e.children.flatMap(allElements)];
}
