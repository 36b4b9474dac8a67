/**
 * What XML 1.0 cannot carry at all (its `Char` production): control characters other than tab, LF
 * and CR, lone surrogates, U+FFFE and U+FFFF. pg's stderr and a hostile backup's names can hold them;
 * they are dropped, since not even a character reference may name them.
 */
const FORBIDDEN = /[^\t\n\r\u0020-\uD7FF\uE000-\uFFFD\u{10000}-\u{10FFFF}]/gu;

const ENTITIES: Record<string, string> = {
  '&': '&amp;',
  '<': '&lt;',
  '>': '&gt;',
  '"': '&quot;',
  "'": '&apos;',
};

/** Text safe in XML content and in a quoted attribute: the five specials escaped, forbidden characters dropped. */
export function xmlText(s: string): string {
  return s.replace(FORBIDDEN, '').replace(/[&<>"']/g, (c) => ENTITIES[c] as string);
}

/** An attribute value: as `xmlText`, and tab, LF and CR as references, which attribute normalization keeps. */
export function xmlAttr(s: string): string {
  return xmlText(s).replace(/[\t\n\r]/g, (c) => `&#${c.charCodeAt(0)};`);
}
