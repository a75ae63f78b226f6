/**
 * The one rule for text a user supplies (usernames, room names, message
 * bodies, idempotency keys, filters), checked by every service through
 * {@link checkText} or {@link textSchema}; docs/security.md states it.
 * - No lone surrogates: UTF-8 cannot hold one, so PostgreSQL would store
 *   U+FFFD instead and what is stored would not be what was given.
 * - No control characters (C0, DEL, C1) but newline and tab in free text,
 *   none at all in names: a NUL is refused by PostgreSQL itself, the others
 *   corrupt terminals and logs.
 * - Lengths count code points, so that an emoji counts as one character.
 */
import { z } from 'zod';
import { badInput } from './errors.ts';

export interface TextRule {
  /** How the message names the value: "Name must be 1 to 100 characters." */
  what: string;
  /** Fewest code points (after trimming, when `trim`). */
  min: number;
  /** Most code points (after trimming, when `trim`). */
  max: number;
  /** `name`: a single line with no control characters at all; `text`: newline and tab allowed. */
  kind: 'name' | 'text';
  /**
   * Leading and trailing white space is dropped before the length is counted and the value stored.
   * @default false
   */
  trim?: boolean;
}

// In a `u` pattern a pair is one code point: only an unpaired half is in the category Cs.
const loneSurrogate = /\p{Cs}/u;
const nameControl = /[\u0000-\u001F\u007F-\u009F]/;
// Control characters other than tab (\t) and newline (\n).
const textControl = /[\u0000-\u0008\u000B-\u001F\u007F-\u009F]/;

/** Code points of a well-formed string: UTF-16 units less the second half of each pair. */
export function codePoints(value: string): number {
  let count = 0;
  for (let i = 0; i < value.length; i++) {
    const unit = value.charCodeAt(i);
    if (unit < 0xdc00 || unit > 0xdfff) count++;
  }
  return count;
}

/** Why `value` breaks `rule`, or null when it keeps it. */
export function textProblem(value: string, rule: TextRule): string | null {
  if (loneSurrogate.test(value)) return `${rule.what} may not contain unpaired surrogates (invalid Unicode).`;
  if (rule.kind === 'name' ? nameControl.test(value) : textControl.test(value)) {
    return rule.kind === 'name' ? `${rule.what} may not contain control characters.` : `${rule.what} may not contain control characters other than newline and tab.`;
  }
  const length = codePoints(rule.trim ? value.trim() : value);
  return length < rule.min || length > rule.max ? `${rule.what} must be ${rule.min} to ${rule.max} characters.` : null;
}

/** `value` as it is stored (trimmed when the rule says so), else BAD_USER_INPUT naming `field`. */
export function checkText(value: string, field: string, rule: TextRule): string {
  const problem = textProblem(value, rule);
  if (problem) throw badInput(field, problem);
  return rule.trim ? value.trim() : value;
}

/** The rule as a zod schema (for the services that parse their input with zod); trims when the rule says so. */
export function textSchema(rule: TextRule): z.ZodType<string, string> {
  return z
    .string()
    .superRefine((value, ctx) => {
      const problem = textProblem(value, rule);
      if (problem) ctx.addIssue({ code: 'custom', message: problem });
    })
    .transform((value) => (rule.trim ? value.trim() : value));
}
