const CANDIDATES = [',', ';', '\t', '|'] as const;
const SAMPLE_LINES = 20;
const MAX_RENAME_NOTICES = 20;

/**
 * Counts each candidate delimiter outside quotes on the first lines of the
 * sample and keeps the one whose count is the same on most lines (then the most
 * frequent, then the earlier candidate). A cut last line is left out unless the
 * sample is the whole file. Without any candidate the file has a single column.
 */
export function detectDelimiter(sample: string, complete: boolean): string {
  const lines: number[][] = [];
  let counts = [0, 0, 0, 0];
  let lineHasContent = false;
  let inQuotes = false;
  for (let i = 0; i < sample.length && lines.length < SAMPLE_LINES; i++) {
    const c = sample.charCodeAt(i);
    if (c !== 0x0a && c !== 0x0d) lineHasContent = true;
    if (c === 0x22) inQuotes = !inQuotes;
    else if (inQuotes) continue;
    else if (c === 0x0a || c === 0x0d) {
      // Blank lines are skipped by the parser, so they say nothing here either.
      if (lineHasContent) lines.push(counts);
      counts = [0, 0, 0, 0];
      lineHasContent = false;
    } else if (c === 0x2c) counts[0]!++;
    else if (c === 0x3b) counts[1]!++;
    else if (c === 0x09) counts[2]!++;
    else if (c === 0x7c) counts[3]!++;
  }
  if (lineHasContent && (complete || lines.length === 0)) lines.push(counts);
  const header = lines[0];
  if (!header) return ',';

  let best: string = ',';
  let bestConsistent = -1;
  let bestCount = 0;
  CANDIDATES.forEach((candidate, k) => {
    const inHeader = header[k]!;
    if (inHeader === 0) return;
    const consistent = lines.filter((line) => line[k] === inHeader).length;
    if (consistent > bestConsistent || (consistent === bestConsistent && inHeader > bestCount)) {
      best = candidate;
      bestConsistent = consistent;
      bestCount = inHeader;
    }
  });
  return best;
}

/**
 * Field names from the header cells: trimmed, an empty one becomes `column_N`
 * (N = 1-based position), and a repeated one becomes `name_2`, `name_3`...
 * skipping any suffix that another header already uses. Each rename is noticed.
 */
export function normalizeHeaders(cells: readonly string[], notices: string[]): string[] {
  const trimmed = cells.map((cell, i) => cell.trim() || `column_${i + 1}`);
  const reserved = new Set(trimmed);
  const taken = new Set<string>();
  let renames = 0;
  const note = (message: string) => {
    renames++;
    if (renames <= MAX_RENAME_NOTICES) notices.push(message);
  };
  const names = trimmed.map((name, i) => {
    if (cells[i]!.trim() === '') note(`empty header in column ${i + 1} named "${name}"`);
    if (!taken.has(name)) {
      taken.add(name);
      return name;
    }
    let k = 2;
    while (taken.has(`${name}_${k}`) || reserved.has(`${name}_${k}`)) k++;
    const renamed = `${name}_${k}`;
    taken.add(renamed);
    note(`duplicate header "${name}" in column ${i + 1} renamed to "${renamed}"`);
    return renamed;
  });
  if (renames > MAX_RENAME_NOTICES) notices.push(`${renames - MAX_RENAME_NOTICES} more header renames not listed`);
  return names;
}
