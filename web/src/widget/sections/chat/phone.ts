/**
 * The contact phone of the pre-chat form, checked before it is sent: international numbers (`+` or
 * `00` and the country code) and Ukrainian national ones (`067 123 45 67`, `380671234567`). The
 * server checks again with libphonenumber (default region UA) and has the last word.
 */
export type PhoneCheck = { ok: true; e164: string; display: string } | { ok: false; reason: "empty" | "invalid" | "country" };

const SEPARATORS = /[\s().\-\u00a0\u2010-\u2015]/g;

function display(digits: string): string {
  if (digits.startsWith("380") && digits.length === 12) {
    return `+380 ${digits.slice(3, 5)} ${digits.slice(5, 8)} ${digits.slice(8)}`;
  }
  if (digits.startsWith("48") && digits.length === 11) {
    return `+48 ${digits.slice(2, 5)} ${digits.slice(5, 8)} ${digits.slice(8)}`;
  }
  return `+${digits}`;
}

export function checkPhone(raw: string): PhoneCheck {
  const text = raw.trim().replace(SEPARATORS, "");
  if (!text) return { ok: false, reason: "empty" };
  let digits: string;
  if (text.startsWith("+")) digits = text.slice(1);
  else if (text.startsWith("00")) digits = text.slice(2);
  else if (/^0\d{9}$/.test(text)) digits = `38${text}`; // national Ukrainian: 0XX XXX XX XX
  else if (/^380\d{9}$/.test(text)) digits = text; // the country code without the plus
  else if (/^\d{9}$/.test(text)) return { ok: false, reason: "country" }; // whose? ask for the code
  else return { ok: false, reason: "invalid" };
  if (!/^[1-9]\d{7,14}$/.test(digits)) return { ok: false, reason: "invalid" };
  if (digits.startsWith("380") && !/^380[1-9]\d{8}$/.test(digits)) return { ok: false, reason: "invalid" };
  if (digits.startsWith("48") && !/^48[1-9]\d{8}$/.test(digits)) return { ok: false, reason: "invalid" };
  if (digits.startsWith("7") && digits.length !== 11) return { ok: false, reason: "invalid" };
  return { ok: true, e164: `+${digits}`, display: display(digits) };
}
