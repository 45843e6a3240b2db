import { DateTime } from 'luxon';

/**
 * Dates read with explicitly declared formats (luxon tokens: `dd/MM/yyyy`, `yyyy-MM-dd HH:mm`),
 * in UTC unless the format carries an offset. A value that no format reads is an error, and
 * so is one that two formats read as different instants: the service never guesses.
 */

export type DateKind = 'date' | 'datetime';
type FormatParser = ReturnType<typeof DateTime.buildFormatParser>;

export interface DateReader {
  /** The ISO 8601 text of a value, or an error message. */
  read(text: string): { ok: true; iso: string } | { ok: false; message: string };
}

const ZONE = { zone: 'utc', setZone: true } as const;
/** The instant a format is tried on when it declares no example: every field distinct. */
const PROBE = DateTime.fromObject({ year: 2001, month: 2, day: 23, hour: 14, minute: 5, second: 36 }, { zone: 'utc' });

/** Distinct values a date step remembers before it starts over. */
const MEMO_ENTRIES = 20_000;

export type DeclaredFormat = string | { format: string; example: string };

const isoOf = (kind: DateKind, d: DateTime): string =>
  kind === 'date' ? d.toFormat('yyyy-MM-dd') : (d.toUTC().toISO({ suppressMilliseconds: true }) ?? '');

/**
 * Checks each declared format against its example (given, or the probe date printed in
 * the format and read back): a format that cannot read its own example is refused, which
 * catches `mm` (minutes) written for `MM` (months) and letters luxon does not know.
 */
export function checkDateFormats(kind: DateKind, formats: readonly DeclaredFormat[]): string[] {
  const problems: string[] = [];
  for (const declared of formats) {
    const format = typeof declared === 'string' ? declared : declared.format;
    if (typeof declared !== 'string') {
      const parsed = DateTime.fromFormat(declared.example, format, ZONE);
      if (!parsed.isValid) problems.push(`the format ${JSON.stringify(format)} does not read its example ${JSON.stringify(declared.example)}`);
      continue;
    }
    const example = PROBE.toFormat(format);
    const parsed = DateTime.fromFormat(example, format, ZONE);
    const same = parsed.isValid && (kind === 'date'
      ? parsed.toFormat('yyyy-MM-dd') === PROBE.toFormat('yyyy-MM-dd')
      : parsed.toMillis() === PROBE.toMillis() || (parsed.toFormat('yyyy-MM-dd') === PROBE.toFormat('yyyy-MM-dd') && !/[Hhms]/.test(format)));
    if (!same) problems.push(`the format ${JSON.stringify(format)} does not read back its own example ${JSON.stringify(example)} as ${PROBE.toFormat('yyyy-MM-dd HH:mm:ss')}`);
  }
  return problems;
}

export function dateReader(kind: DateKind, formats: readonly DeclaredFormat[] | undefined): DateReader {
  if (formats === undefined) {
    // No declared format: ISO 8601 only.
    return {
      read(text) {
        const d = DateTime.fromISO(text, ZONE);
        return d.isValid ? { ok: true, iso: isoOf(kind, d) } : { ok: false, message: `${JSON.stringify(text)} is not an ISO 8601 ${kind}` };
      },
    };
  }
  const names = formats.map((f) => (typeof f === 'string' ? f : f.format));
  const parsers: FormatParser[] = names.map((format) => DateTime.buildFormatParser(format, { locale: 'en-US' }));
  // A column of dates repeats its values (signup days, birthdays): a reading is a pure
  // function of the text, so a bounded memo spares luxon most rows of a large file.
  const memo = new Map<string, ReturnType<DateReader['read']>>();
  const readAll = (text: string): ReturnType<DateReader['read']> => {
    let found: string | undefined;
    for (const parser of parsers) {
      const d = DateTime.fromFormatParser(text, parser, ZONE);
      if (!d.isValid) continue;
      const iso = isoOf(kind, d);
      if (found !== undefined && found !== iso) {
        return { ok: false, message: `${JSON.stringify(text)} is ambiguous: the declared formats read it as ${found} and ${iso}` };
      }
      found = iso;
    }
    return found === undefined
      ? { ok: false, message: `${JSON.stringify(text)} matches none of the formats ${names.join(', ')}` }
      : { ok: true, iso: found };
  };
  return {
    read(text) {
      const known = memo.get(text);
      if (known !== undefined) return known;
      const read = readAll(text);
      if (memo.size >= MEMO_ENTRIES) memo.clear();
      memo.set(text, read);
      return read;
    },
  };
}
