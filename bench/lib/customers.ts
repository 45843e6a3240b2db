// Synthetic customer data, the same bytes on every run: row i is a pure function of i,
// so every ceiling writes exactly the records Intake builds from the generated files.
import { once } from 'node:events';
import { createWriteStream } from 'node:fs';
import fs from 'node:fs/promises';
import path from 'node:path';

export const CUSTOMER_COLUMNS = [
  'Index',
  'Customer Id',
  'First Name',
  'Last Name',
  'Company',
  'City',
  'Country',
  'Phone 1',
  'Phone 2',
  'Email',
  'Subscription Date',
  'Website',
] as const;

/** XML element names may not hold spaces: the same fields, in the same order, as camelCase tags. */
export const XML_TAGS = [
  'index',
  'customerId',
  'firstName',
  'lastName',
  'company',
  'city',
  'country',
  'phone1',
  'phone2',
  'email',
  'subscriptionDate',
  'website',
] as const;

export type BenchFormat = 'csv' | 'ndjson' | 'xml';

const FIRST = ['Sheryl', 'Preston', 'Roy', 'Linda', 'Joanna', 'Aimee', 'Darren', 'Brett', 'Sheryl', 'Marcus', 'Ann', 'Zoë', 'José', 'Chloé', 'Bo', 'Erin'];
const LAST = ['Baxter', 'Lozano', 'Berry', 'Olsen', 'Bender', 'Downs', 'Peck', 'Mullen', 'Meyer', "O'Neill", 'Nguyen', 'Dubois', 'García', 'Kowalski'];
const COMPANY_SUFFIX = ['Group', 'Ltd', 'PLC', 'and Sons', 'Inc', 'LLC', '& Partners', ', Jr. and Co'];
const CITIES = ['East Leonard', 'Dominiquefort', 'Isabelborough', 'West Priscilla', 'Port Joyside', 'Lake Kimberly', 'São Paulo', 'Zürich'];
const COUNTRIES = ['Chile', 'Djibouti', 'Antigua and Barbuda', 'Korea, Republic of', 'Netherlands', 'Sri Lanka', 'Côte d\'Ivoire', 'United Kingdom'];
const DOMAINS = ['example.com', 'example.org', 'example.net'];
const HEX = '0123456789abcdefABCDEF';

/** mulberry32 seeded with the row index. */
function random(seed: number): () => number {
  let a = (seed * 2654435761) >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

function pick<T>(r: () => number, list: readonly T[]): T {
  return list[Math.floor(r() * list.length)]!;
}

function digits(r: () => number, n: number): string {
  let s = '';
  for (let i = 0; i < n; i++) s += Math.floor(r() * 10);
  return s;
}

function phone(r: () => number): string {
  switch (Math.floor(r() * 4)) {
    case 0:
      return `${digits(r, 3)}.${digits(r, 3)}.${digits(r, 4)}`;
    case 1:
      return `+1-${digits(r, 3)}-${digits(r, 3)}-${digits(r, 4)}x${digits(r, 4)}`;
    case 2:
      return `001-${digits(r, 3)}-${digits(r, 3)}-${digits(r, 4)}`;
    default:
      return `(${digits(r, 3)})${digits(r, 3)}-${digits(r, 4)}`;
  }
}

/** The 12 cells of data row `index` (1-based), as strings exactly as they appear in every format. */
export function customerCells(index: number): string[] {
  const r = random(index);
  const first = pick(r, FIRST);
  const last = pick(r, LAST);
  let id = '';
  for (let i = 0; i < 15; i++) id += HEX[Math.floor(r() * HEX.length)];
  const year = 2020 + Math.floor(r() * 3);
  const month = String(1 + Math.floor(r() * 12)).padStart(2, '0');
  const day = String(1 + Math.floor(r() * 28)).padStart(2, '0');
  const company = `${pick(r, LAST)} ${pick(r, COMPANY_SUFFIX)}`;
  return [
    String(index),
    id,
    first,
    last,
    company,
    pick(r, CITIES),
    pick(r, COUNTRIES),
    phone(r),
    phone(r),
    `${first}.${last}${digits(r, 2)}@${pick(r, DOMAINS)}`.toLowerCase().replace(/[^a-z0-9.@-]/g, 'x'),
    `${year}-${month}-${day}`,
    `https://${last.toLowerCase().replace(/[^a-z]/g, '')}${digits(r, 2)}.example/`,
  ];
}

function csvCell(cell: string): string {
  return /[",\r\n]/.test(cell) ? `"${cell.replaceAll('"', '""')}"` : cell;
}

function xmlText(cell: string): string {
  return cell.replaceAll('&', '&amp;').replaceAll('<', '&lt;');
}

/** One record's JSON text with the file's field names, as Intake stores it. */
export function customerJson(index: number, format: BenchFormat): string {
  const cells = customerCells(index);
  const names = format === 'xml' ? XML_TAGS : CUSTOMER_COLUMNS;
  let json = '{';
  for (let i = 0; i < names.length; i++) json += (i === 0 ? '' : ',') + JSON.stringify(names[i]) + ':' + JSON.stringify(cells[i]);
  return json + '}';
}

/**
 * The customer of row `index` in a keyed file of `customers` customers: every customer's
 * rows are spread evenly across the file (7919 is prime, so it steps through every
 * customer before one comes again).
 */
export function keyedCustomer(index: number, customers: number): number {
  return (index * 7919) % customers;
}

/** Row `index`'s cells, its Email that of its customer (the domain's case varies by row, as sources differ). */
function keyedCells(index: number, customers: number | undefined): string[] {
  const cells = customerCells(index);
  if (customers === undefined) return cells;
  const domain = index % 3 === 0 ? 'Example.COM' : 'example.com';
  cells[9] = ` customer${keyedCustomer(index, customers)}@${domain}`;
  return cells;
}

function rowText(index: number, format: BenchFormat, customers?: number): string {
  const cells = keyedCells(index, customers);
  if (format === 'csv') return cells.map(csvCell).join(',') + '\n';
  if (format === 'ndjson') return customerJson(index, 'ndjson') + '\n';
  let xml = '  <customer>';
  for (let i = 0; i < XML_TAGS.length; i++) xml += `<${XML_TAGS[i]}>${xmlText(cells[i]!)}</${XML_TAGS[i]}>`;
  return xml + '</customer>\n';
}

/** Bumped whenever the generated bytes change, so cached files are regenerated. */
const GENERATOR_VERSION = 2;

/**
 * Writes (or reuses) `<dir>/customers-<rows>.<format>`: generated once, written to a
 * temp file and renamed, so an interrupted run never leaves a truncated file behind.
 */
export async function customerFile(dir: string, format: BenchFormat, rows: number, customers?: number): Promise<string> {
  if (customers !== undefined && format !== 'csv') throw new Error('keyed files are generated as CSV only');
  const keyed = customers === undefined ? '' : `-keyed${customers}`;
  const file = path.join(dir, `customers-v${GENERATOR_VERSION}${keyed}-${rows}.${format}`);
  try {
    await fs.access(file);
    return file;
  } catch {
    // Not generated yet.
  }
  await fs.mkdir(dir, { recursive: true });
  const tmp = `${file}.${process.pid}.tmp`;
  const out = createWriteStream(tmp);
  const write = async (text: string) => {
    if (!out.write(text)) await once(out, 'drain');
  };
  if (format === 'csv') await write(CUSTOMER_COLUMNS.map(csvCell).join(',') + '\n');
  if (format === 'xml') await write('<?xml version="1.0" encoding="UTF-8"?>\n<customers>\n');
  let buffer = '';
  for (let i = 1; i <= rows; i++) {
    buffer += rowText(i, format, customers);
    if (buffer.length > 1 << 20) {
      await write(buffer);
      buffer = '';
    }
  }
  if (format === 'xml') buffer += '</customers>\n';
  await write(buffer);
  out.end();
  await once(out, 'finish');
  await fs.rename(tmp, file);
  return file;
}
