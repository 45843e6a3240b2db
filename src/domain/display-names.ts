import { AppError } from '../errors.js';

// Unicode category Cf: bidi overrides and isolates (U+202E...), zero-width characters, soft
// hyphen, tag characters. They draw nothing themselves but change how the text around them
// reads, so `‮gpj.exe` displays as `exe.jpg`: a name an admin reads must show what it is.
const FORMAT_CHARACTER = /\p{Cf}/u;

/** The first Cf character of `text`: its code point and 1-based position in characters (code points). */
export function findFormatCharacter(text: string): { codePoint: string; position: number } | undefined {
  if (!FORMAT_CHARACTER.test(text)) return undefined;
  let position = 0;
  for (const char of text) {
    position++;
    if (FORMAT_CHARACTER.test(char)) {
      return { codePoint: `U+${char.codePointAt(0)!.toString(16).toUpperCase().padStart(4, '0')}`, position };
    }
  }
  return undefined;
}

/**
 * Refuses a name shown to people (a project's or a key's) that holds a format character,
 * with the character and its position. Built here rather than in errors.ts: this is the one
 * place that raises it.
 */
export function assertDisplayName(field: string, name: string): void {
  const found = findFormatCharacter(name);
  if (found === undefined) return;
  throw new AppError(
    400,
    'invisible_character',
    `${field} holds the invisible format character ${found.codePoint} at position ${found.position}; such characters (Unicode category Cf, e.g. bidi overrides) can make a name display as something else.`,
    // The shape of validation_failed's details, with the character and its position added.
    [{ path: field, message: `holds ${found.codePoint} at position ${found.position}`, codePoint: found.codePoint, position: found.position }],
  );
}
