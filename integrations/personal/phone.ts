// Phone numbers as dispatchers type them, normalised to E.164 before they are exchanged in personal.

/** `+` and 8..15 digits, no leading zero in the country code. */
const e164 = /^\+[1-9]\d{7,14}$/;

/**
 * The E.164 form of a phone typed by a person, or undefined when it is not a phone number.
 * Spaces, dashes, dots and parentheses are dropped. Russian forms are completed: `8 916 ...` and
 * `7 916 ...` (11 digits) and a bare 10-digit number starting with 9 become `+7 916 ...`; `00` is
 * the international prefix. A `+7` number must have exactly 10 digits after the country code.
 * @example normalizePhone("8 (916) 123-45-67") // "+79161234567"
 */
export function normalizePhone(input: string): string | undefined {
  const compact = input.trim().replace(/[\s\-().]/g, "");
  if (!/^\+?\d+$/.test(compact)) return undefined;
  let phone: string;
  if (compact.startsWith("+")) phone = compact;
  else if (compact.startsWith("00")) phone = `+${compact.slice(2)}`;
  else if (compact.length === 11 && (compact.startsWith("8") || compact.startsWith("7"))) phone = `+7${compact.slice(1)}`;
  else if (compact.length === 10 && compact.startsWith("9")) phone = `+7${compact}`;
  else return undefined;
  if (!e164.test(phone)) return undefined;
  if (phone.startsWith("+7") && phone.length !== 12) return undefined;
  return phone;
}

/** True for a string already in E.164 form (what personal accepts for `phones`). */
export const isE164 = (value: string): boolean => e164.test(value);
