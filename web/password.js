/* password.js: the rules for a PFX password, and how strong it is. */

/* Why a PFX password is refused, or ''. */
export function passwordProblem(p) {
  if (!/^[\x20-\x7e]*$/.test(p)) return 'Only ASCII letters, digits, spaces and punctuation: consoles (RPS, node-forge) garble other characters.';
  if (p.length < 8) return 'At least 8 characters (' + p.length + ' so far).';
  if (p.length > 64) return 'At most 64 characters: Open AMT RPS refuses longer passwords.';
  return '';
}

export function passwordScore(p) {
  let pool = 0;
  if (/[a-z]/.test(p)) pool += 26;
  if (/[A-Z]/.test(p)) pool += 26;
  if (/[0-9]/.test(p)) pool += 10;
  if (/[^A-Za-z0-9]/.test(p)) pool += 33;
  let bits = p.length * Math.log2(Math.max(pool, 1));
  if (/^(.)\1+$/.test(p) || /^(password|passwort|12345678|qwertyui)/i.test(p)) bits = Math.min(bits, 10);
  if (bits < 40) return { score: 1, word: 'weak', advice: 'Weak: use a longer password, or a few random words.' };
  if (bits < 60) return { score: 2, word: 'fair', advice: 'Fair: a few more characters make it much harder to guess.' };
  if (bits < 80) return { score: 3, word: 'good', advice: 'Good.' };
  return { score: 4, word: 'strong', advice: 'Strong.' };
}
