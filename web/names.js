/*
 * names.js: the naming rules of pki/names.c again, so that messages
 * appear as you type (the daemon checks everything again).
 */

export const TLD_DEPTH = {};
'net com org gov edu de ch dk cz cl ua'.split(' ').forEach((t) => { TLD_DEPTH[t] = 2; });
('arpa fr cn nl br mx uk pl tw ca fi be ru se ar es no at in tr ro hu nz pt il gr co ie za th sg hk lt id hr ee bg')
  .split(' ').forEach((t) => { TLD_DEPTH[t] = 3; });

const PRIVATE_TLDS = ['local', 'localdomain', 'lan', 'internal', 'intranet', 'corp', 'home', 'private',
  'test', 'invalid', 'localhost', 'example'];

export const COUNTRIES = new Set((
  'AD AE AF AG AI AL AM AO AQ AR AS AT AU AW AX AZ BA BB BD BE BF BG BH BI BJ BL BM BN BO BQ BR BS BT BV ' +
  'BW BY BZ CA CC CD CF CG CH CI CK CL CM CN CO CR CU CV CW CX CY CZ DE DJ DK DM DO DZ EC EE EG EH ER ES ' +
  'ET FI FJ FK FM FO FR GA GB GD GE GF GG GH GI GL GM GN GP GQ GR GS GT GU GW GY HK HM HN HR HT HU ID IE ' +
  'IL IM IN IO IQ IR IS IT JE JM JO JP KE KG KH KI KM KN KP KR KW KY KZ LA LB LC LI LK LR LS LT LU LV LY ' +
  'MA MC MD ME MF MG MH MK ML MM MN MO MP MQ MR MS MT MU MV MW MX MY MZ NA NC NE NF NG NI NL NO NP NR NU ' +
  'NZ OM PA PE PF PG PH PK PL PM PN PR PS PT PW PY QA RE RO RS RU RW SA SB SC SD SE SG SH SI SJ SK SL SM ' +
  'SN SO SR SS ST SV SX SY SZ TC TD TF TG TH TJ TK TL TM TN TO TR TT TV TW TZ UA UG UM US UY UZ VA VC VE ' +
  'VG VI VN VU WF WS YE YT ZA ZM ZW').split(' '));

/* Why name is not an FQDN, or '' when it is one. */
export function fqdnProblem(name, allowWildcard) {
  if (!name) return 'empty';
  if (name.length > 253) return 'longer than 253 characters';
  let s = name;
  if (allowWildcard && s.startsWith('*.')) s = s.slice(2);
  if (s.includes('*')) return allowWildcard ? 'a wildcard may only be the whole leftmost label ("*.example.com")' : 'no wildcard here';
  if (/\s/.test(s)) return 'contains a space';
  if (s.includes('_')) return 'contains "_", which host names may not';
  if (s.includes('://') || s.includes('/')) return 'looks like a URL: give the host name only';
  if (s.endsWith('.')) return 'ends with a dot';
  if (s.startsWith('.')) return 'starts with a dot';
  const labels = s.split('.');
  if (labels.length < 2) return 'has a single label: use the full name (host.domain)';
  for (const l of labels) {
    if (!l.length) return 'has an empty label ("..")';
    if (l.length > 63) return 'has a label longer than 63 characters';
    if (!/^[A-Za-z0-9-]+$/.test(l)) return 'has characters other than letters, digits, "-" and "."';
    if (l.startsWith('-') || l.endsWith('-')) return 'has a label that starts or ends with "-"';
  }
  if (/^[0-9]+$/.test(labels[labels.length - 1])) return 'ends in a number (an IP address is not a host name)';
  return '';
}

export function lastLabels(s, n) {
  const parts = s.split('.');
  return parts.slice(Math.max(0, parts.length - n)).join('.');
}

function endsWithLabels(s, tail) {
  const a = s.toLowerCase();
  const b = tail.toLowerCase();
  return a === b || a.endsWith('.' + b);
}

/*
 * Intel's rule (SDK "PKI Certificate Verification Methods", with the
 * per-TLD shortening MeshCentral encodes): {ok, how, depth}.
 */
export function intelSuffix(cn, suffix) {
  let name = cn;
  if (name.startsWith('*.')) name = name.slice(2);
  if (endsWithLabels(name, suffix)) return { ok: true, how: 'boundary' };
  const tld = lastLabels(name, 1).toLowerCase();
  const depth = TLD_DEPTH[tld] || 0;
  if (!depth) return { ok: false, how: 'none', tld, depth };
  const tail = lastLabels(name, depth);
  if (endsWithLabels(suffix, tail)) return { ok: true, how: 'depth', tld, depth, tail };
  return { ok: false, how: 'depth', tld, depth, tail };
}

/* Open AMT RPS: the last two labels, compared byte for byte. */
export function rpsSuffix(cn, suffix) {
  if (cn.split('.').length < 2 || suffix.split('.').length < 2) return false;
  return lastLabels(cn, 2) === lastLabels(suffix, 2);
}

/* pki_state_looks_abbreviated */
export function stateAbbreviated(state) {
  const s = state.trim();
  if (!s) return false;
  if (s.endsWith('.')) return true;
  const letters = /^[A-Za-z]+$/.test(s);
  if (letters && s.length <= 2) return true;
  if (/^[A-Z]{3}$/.test(s)) return true;
  return s.length >= 3 && /^[A-Za-z](\.[A-Za-z])+\.?$/.test(s);
}

export function privateTld(name) {
  const n = name.toLowerCase();
  if (n.endsWith('.home.arpa') || n === 'home.arpa') return 'home.arpa';
  const tld = lastLabels(n, 1);
  return PRIVATE_TLDS.includes(tld) ? tld : '';
}
