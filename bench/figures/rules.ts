// Data quality (issue: data quality): the same customer CSV ingested with a realistic
// 12-step cleaning rule set and without rules, on fresh servers in the same run; the figure
// is rows/s with rules over rows/s without (target >= 0.75).
import { once } from 'node:events';
import { createWriteStream } from 'node:fs';
import fs from 'node:fs/promises';
import path from 'node:path';
import { CUSTOMER_COLUMNS, customerCells } from '../lib/customers.js';
import type { BenchOptions } from '../lib/options.js';
import type { Results } from '../lib/results.js';
import { fmt, median } from '../lib/stats.js';
import { intakeIngest, rowsLabel } from './ingest.js';

const COUNTRY_CODES: Record<string, string> = {
  Chile: 'CL',
  Djibouti: 'DJ',
  'Antigua and Barbuda': 'AG',
  'Korea, Republic of': 'KR',
  Netherlands: 'NL',
  'Sri Lanka': 'LK',
  "Côte d'Ivoire": 'CI',
  'United Kingdom': 'GB',
};

/**
 * Trim all, email, phone, cast a date, map country, hash one field, rename two, drop one,
 * required two, and the index cast to an integer: every row passes, so both ingests store
 * the same number of records and the ratio measures the cleaning alone.
 */
export const RULES_MODEL = {
  rules: [
    { op: 'trim', fields: '*' },
    { op: 'email', field: 'Email' },
    { op: 'phone', field: 'Phone 1', defaultCountry: 'US' },
    { op: 'cast', field: 'Subscription Date', to: 'date', formats: ['dd/MM/yyyy'] },
    { op: 'map', field: 'Country', values: COUNTRY_CODES, otherwise: 'error' },
    { op: 'hash', fields: ['Customer Id'] },
    { op: 'rename', from: 'First Name', to: 'firstName' },
    { op: 'rename', from: 'Last Name', to: 'lastName' },
    { op: 'drop', fields: ['Website'] },
    { op: 'cast', field: 'Index', to: 'integer' },
    { op: 'required', fields: ['Email'] },
    { op: 'required', fields: ['Customer Id'] },
  ],
};

// Area codes in service: the phone library checks them, and the generator's random digits
// make mostly numbers that no country has.
const AREA_CODES = [
  201, 202, 203, 205, 206, 207, 208, 209, 210, 212, 213, 214, 215, 216, 217, 218, 219, 224, 225, 228,
  229, 231, 234, 239, 240, 248, 251, 252, 253, 254, 256, 260, 262, 267, 269, 270, 281, 301, 302, 303,
  304, 305, 307, 308, 309, 310, 312, 313, 314, 315, 316, 317, 318, 319, 320, 321, 323, 330, 334, 336,
  337, 339, 347, 351, 352, 360, 361, 404, 405, 406, 407, 408, 409, 410, 412, 413, 414, 415, 417, 419,
  423, 425, 430, 432, 434, 435, 440, 443, 469, 478, 479, 480, 484, 501, 502, 503, 504, 505, 507, 508,
  509, 510, 512, 513, 515, 516, 517, 518, 520, 530, 540, 541, 559, 561, 562, 563, 567, 570, 571, 573,
  574, 575, 580, 585, 586, 601, 602, 603, 605, 606, 607, 608, 609, 610, 612, 614, 615, 616, 617, 618,
  619, 620, 623, 626, 630, 631, 636, 641, 646, 650, 651, 660, 661, 662, 678, 682, 701, 702, 703, 704,
  706, 707, 708, 712, 713, 714, 715, 716, 717, 718, 719, 720, 724, 727, 731, 732, 734, 740, 754, 757,
  760, 763, 765, 770, 772, 773, 774, 775, 781, 785, 786, 801, 802, 803, 804, 805, 806, 808, 810, 812,
  813, 814, 815, 816, 817, 818, 828, 830, 831, 832, 843, 845, 847, 848, 850, 856, 857, 858, 859, 860,
  862, 863, 864, 865, 870, 901, 903, 904, 906, 907, 908, 909, 910, 912, 913, 914, 915, 916, 917, 918,
  919, 920, 925, 928, 931, 936, 937, 940, 941, 947, 949, 951, 952, 954, 956, 970, 971, 972, 973, 978,
  979, 980, 985, 989,
];

/** A valid US number for row `index`, in one of the spellings sources use. */
function validPhone(index: number, salt: number): string {
  const n = Math.imul(index, 2654435761) ^ Math.imul(salt, 40503);
  const h = n >>> 0;
  const area = AREA_CODES[h % AREA_CODES.length]!;
  const exchange = 200 + ((h >>> 8) % 800);
  const line = String((h >>> 3) % 10000).padStart(4, '0');
  switch (index % 3) {
    case 0: return `${area}.${exchange}.${line}`;
    case 1: return `+1-${area}-${exchange}-${line}`;
    default: return `(${area})${exchange}-${line}`;
  }
}

/** The customer rows made messy the way sources are: padded cells, shouting emails, dd/MM/yyyy dates. */
function messyRow(index: number): string {
  const cells = customerCells(index);
  cells[7] = validPhone(index, 1);
  cells[8] = validPhone(index, 2);
  if (index % 2 === 0) cells[9] = ` ${cells[9]!.toUpperCase()} `;
  const [y, m, d] = cells[10]!.split('-');
  cells[10] = `${d}/${m}/${y}`;
  if (index % 5 === 0) cells[2] = `  ${cells[2]}`;
  return cells.map((c) => (/[",\r\n]/.test(c) ? `"${c.replaceAll('"', '""')}"` : c)).join(',') + '\n';
}

async function messyCustomerFile(dir: string, rows: number): Promise<string> {
  const file = path.join(dir, `customers-messy-v2-${rows}.csv`);
  try {
    await fs.access(file);
    return file;
  } catch {
    // Not generated yet.
  }
  await fs.mkdir(dir, { recursive: true });
  const tmp = `${file}.${process.pid}.tmp`;
  const out = createWriteStream(tmp);
  let buffer = CUSTOMER_COLUMNS.join(',') + '\n';
  for (let i = 1; i <= rows; i++) {
    buffer += messyRow(i);
    if (buffer.length > 1 << 20 || i === rows) {
      if (!out.write(buffer)) await once(out, 'drain');
      buffer = '';
    }
  }
  out.end();
  await once(out, 'finish');
  await fs.rename(tmp, file);
  return file;
}

export async function rulesFigures(options: BenchOptions, results: Results): Promise<void> {
  const rows = options.rulesRows;
  const file = await messyCustomerFile(path.join(options.dataDir, 'files'), rows);
  const count = rows >= 1_000_000 ? options.largeRuns : options.runs;
  const runs: Record<string, number>[] = [];
  for (let run = 0; run < count; run++) {
    // Alternated: whichever runs first meets a cooler machine.
    const order = run % 2 === 0 ? (['plain', 'rules'] as const) : (['rules', 'plain'] as const);
    const seconds: Record<string, { seconds: number; cpuSeconds: number; peakAnonMiB: number }> = {};
    for (const kind of order) {
      seconds[kind] = await intakeIngest(options, file, rows, undefined, false, undefined, kind === 'rules' ? RULES_MODEL : undefined);
    }
    const plain = seconds.plain!;
    const rules = seconds.rules!;
    runs.push({
      rows,
      plainRowsPerSecond: rows / plain.seconds,
      rulesRowsPerSecond: rows / rules.seconds,
      ratio: plain.seconds / rules.seconds,
      plainCpuSeconds: plain.cpuSeconds,
      rulesCpuSeconds: rules.cpuSeconds,
      cpuRatio: plain.cpuSeconds / rules.cpuSeconds,
      plainPeakAnonMiB: plain.peakAnonMiB,
      rulesPeakAnonMiB: rules.peakAnonMiB,
    });
  }
  const m = (k: string) => median(runs.map((r) => r[k]!));
  results.add({
    name: `ingest_rules_csv_${rowsLabel(rows)}_vs_plain_ratio`,
    value: m('ratio'),
    unit: 'ratio',
    detail:
      `${rowsLabel(rows)} rows, ${RULES_MODEL.rules.length} rule steps: with rules ${fmt(m('rulesRowsPerSecond'))} rows/s, ` +
      `without ${fmt(m('plainRowsPerSecond'))} rows/s; server CPU with ${fmt(m('rulesCpuSeconds'))} s, without ${fmt(m('plainCpuSeconds'))} s ` +
      `(ratio ${fmt(m('cpuRatio'))}); peak anonymous RSS with ${fmt(m('rulesPeakAnonMiB'))} MiB, without ${fmt(m('plainPeakAnonMiB'))} MiB`,
    target: '>= 0.75',
    pass: m('ratio') >= 0.75,
    runs,
    medians: Object.fromEntries(Object.keys(runs[0]!).map((k) => [k, m(k)])),
  });
}
