import { Metadata, type CountryCode } from 'libphonenumber-js';

/**
 * The phone step's fast path for the commonest spelling of a North American number:
 * `201.555.0123`, `(201)555-0123`, `+1-201-555-0123` and the like, ten digits with at most
 * one separator between groups. The phone library answers such a value by the same
 * decisions taken here, but it builds each of its regular expressions again on every
 * call (~8 µs a value, most of an ingest's cleaning); here they are built once per step,
 * from the library's own metadata. Anything else (other shapes, a prefix the metadata
 * would strip, a default country outside the +1 plan) answers undefined, and the step
 * asks the library. Unit tests compare both on many generated values, valid or not.
 */

/** What the library's metadata object offers beyond its typed surface (stable across 1.x). */
interface NumberingPlanType {
  pattern(): string;
  possibleLengths(): number[] | undefined;
}
interface NumberingPlan {
  nationalNumberPattern(): string;
  leadingDigits(): string | undefined;
  hasTypes(): boolean;
  type(name: string): NumberingPlanType | undefined;
  nationalPrefixForParsing(): string | undefined;
  IDDPrefix(): string;
  callingCode(): string;
}
interface PlanMetadata {
  numberingPlan: NumberingPlan;
  selectNumberingPlan(country: string): void;
  getCountryCodesForCallingCode(code: string): string[] | undefined;
}

/** The types getNumberType tries, fixed line first; a number of any of them is valid. */
const TYPES = ['FIXED_LINE', 'MOBILE', 'PREMIUM_RATE', 'TOLL_FREE', 'SHARED_COST', 'VOIP', 'PERSONAL_NUMBER', 'PAGER', 'UAN', 'VOICEMAIL'];

// An optional +1, a three-digit area code not starting with 0 or 1 (so no national prefix or
// calling code can be read into it), with or without brackets, then 3 and 4 digits.
const NANP_SHAPE = /^(\+1[ .-]?)?(?:\(([2-9]\d\d)\) ?|([2-9]\d\d)[ .-]?)(\d{3})[ .-]?(\d{4})$/;

interface CountryPlan {
  country: string;
  /** Set when the plan picks its numbers by leading digits (searched, as the library does). */
  leadingDigits?: RegExp;
  /** Whether the plan gives a national number a type (getNumberType): none without types. */
  typed(national: string): boolean;
  /** Whether a national number is valid in this plan, as PhoneNumber.isValid decides it. */
  valid(national: string): boolean;
  /** The plan's international (IDD) prefix, which the library strips from a number written without +. */
  idd: RegExp;
  /** The plan's national prefix for parsing, anchored: a number it matches would lose digits to it. */
  nationalPrefix?: RegExp;
}

const whole = (pattern: string) => new RegExp(`^(?:${pattern})$`);

function countryPlan(metadata: PlanMetadata, country: string): CountryPlan {
  metadata.selectNumberingPlan(country);
  const plan = metadata.numberingPlan;
  const general = whole(plan.nationalNumberPattern());
  const types: { lengths?: number[]; pattern: RegExp }[] = [];
  if (plan.hasTypes()) {
    for (const name of TYPES) {
      const type = plan.type(name);
      if (!type || !type.pattern()) continue;
      types.push({ lengths: type.possibleLengths(), pattern: whole(type.pattern()) });
    }
  }
  const hasTypes = plan.hasTypes();
  const typed = (national: string): boolean => {
    if (!general.test(national)) return false;
    for (const type of types) {
      if (type.lengths && !type.lengths.includes(national.length)) continue;
      if (type.pattern.test(national)) return true;
    }
    return false;
  };
  const leading = plan.leadingDigits();
  const forParsing = plan.nationalPrefixForParsing();
  return {
    country,
    ...(leading ? { leadingDigits: new RegExp(leading) } : {}),
    idd: new RegExp(plan.IDDPrefix()),
    ...(forParsing ? { nationalPrefix: new RegExp(`^(?:${forParsing})`) } : {}),
    typed,
    valid: (national) => (hasTypes ? typed(national) : general.test(national)),
  };
}

/** E.164 text of a valid number, false for an invalid one, undefined when the library must decide. */
export type FastPhone = (text: string) => string | false | undefined;

/** The fast path for a step's default country, or undefined when it is not in the +1 plan. */
export function nanpFastPath(defaultCountry: CountryCode | undefined): FastPhone | undefined {
  const metadata = new Metadata() as unknown as PlanMetadata;
  const countries = metadata.getCountryCodesForCallingCode('1');
  if (!countries || countries.length === 0) return undefined;
  if (defaultCountry !== undefined && !countries.includes(defaultCountry)) return undefined;
  const plans = countries.map((country) => countryPlan(metadata, country));
  const main = plans[0]!;
  const home = defaultCountry === undefined ? undefined : plans[countries.indexOf(defaultCountry)]!;
  return (text) => {
    const m = NANP_SHAPE.exec(text);
    if (m === null) return undefined;
    const international = m[1] !== undefined;
    // Without +1 and without a default country, the library finds no plan: leave it to it.
    const selected = international ? main : home;
    if (selected === undefined) return undefined;
    const national = (m[2] ?? m[3]!) + m[4]! + m[5]!;
    // A national number the library would read an IDD or national prefix from goes to it.
    if (!international && national.search(selected.idd) === 0) return undefined;
    if (selected.nationalPrefix?.test(national)) return undefined;
    // The country among the plan's: the first whose leading digits start the number, or
    // (for those without) whose types take it; then valid only in that country's plan.
    let found: CountryPlan | undefined;
    for (const plan of plans) {
      if (plan.leadingDigits ? national.search(plan.leadingDigits) === 0 : plan.typed(national)) {
        found = plan;
        break;
      }
    }
    return (found ?? selected).valid(national) ? `+1${national}` : false;
  };
}
