/**
 * The apimachinery name and label checks (k8s.io/apimachinery/pkg/util/validation), with their messages, which
 * the OpenAPI schemas kubernetes-models validates against do not express.
 */

const DNS1123_LABEL = /^[a-z0-9]([-a-z0-9]*[a-z0-9])?$/;
const DNS1123_SUBDOMAIN = /^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$/;
const DNS1035_LABEL = /^[a-z]([-a-z0-9]*[a-z0-9])?$/;
const QUALIFIED_NAME = /^([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9]$/;
const LABEL_VALUE = /^(([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9])?$/;

const tooLong = (max: number) => `must be no more than ${max} characters`;

/** apimachinery's order: the length error first, then the format's message. */
function errorsOf(max: number, pattern: RegExp, message: string): (value: string) => string[] {
  return (value) => [...(value.length > max ? [tooLong(max)] : []), ...(pattern.test(value) ? [] : [message])];
}

export const dns1123LabelErrors = errorsOf(
  63,
  DNS1123_LABEL,
  "a lowercase RFC 1123 label must consist of lower case alphanumeric characters or '-', and must start and end with an alphanumeric character (e.g. 'my-name',  or '123-abc', regex used for validation is '[a-z0-9]([-a-z0-9]*[a-z0-9])?')",
);

export const dns1123SubdomainErrors = errorsOf(
  253,
  DNS1123_SUBDOMAIN,
  "a lowercase RFC 1123 subdomain must consist of lower case alphanumeric characters, '-' or '.', and must start and end with an alphanumeric character (e.g. 'example.com', regex used for validation is '[a-z0-9]([-a-z0-9]*[a-z0-9])?(\\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*')",
);

export const dns1035LabelErrors = errorsOf(
  63,
  DNS1035_LABEL,
  "a DNS-1035 label must consist of lower case alphanumeric characters or '-', start with an alphabetic character, and end with an alphanumeric character (e.g. 'my-name',  or 'abc-123', regex used for validation is '[a-z]([-a-z0-9]*[a-z0-9])?')",
);

/** The name part of a qualified name (a label key's, after its prefix). */
const qualifiedNamePartErrors = errorsOf(
  63,
  QUALIFIED_NAME,
  "must consist of alphanumeric characters, '-', '_' or '.', and must start and end with an alphanumeric character (e.g. 'MyName',  or 'my.name',  or '123-abc', regex used for validation is '([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9]')",
);

/** A label or annotation key: an optional DNS subdomain prefix and `/`, then a name of at most 63 characters. */
export function labelKeyErrors(key: string): string[] {
  const parts = key.split('/');
  let name = key;
  const errors: string[] = [];
  if (parts.length === 2) {
    const [prefix, n] = parts as [string, string];
    name = n;
    if (prefix.length === 0) errors.push('prefix part must be non-empty');
    else errors.push(...dns1123SubdomainErrors(prefix).map((e) => `prefix part ${e}`));
  } else if (parts.length > 2) {
    return [
      "a qualified name must consist of alphanumeric characters, '-', '_' or '.', and must start and end with an alphanumeric character (e.g. 'MyName',  or 'my.name',  or '123-abc', regex used for validation is '([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9]') with an optional DNS subdomain prefix and '/' (e.g. 'example.com/MyName')",
    ];
  }
  if (name.length === 0) errors.push('name part must be non-empty');
  else errors.push(...qualifiedNamePartErrors(name).map((e) => `name part ${e}`));
  return errors;
}

export const labelValueErrors = errorsOf(
  63,
  LABEL_VALUE,
  "a valid label must be an empty string or consist of alphanumeric characters, '-', '_' or '.', and must start and end with an alphanumeric character (e.g. 'MyValue',  or 'my_value',  or '12345', regex used for validation is '(([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9])?')",
);

/** Keys of Secret and ConfigMap data. */
export const configKeyErrors = errorsOf(
  253,
  /^[-._a-zA-Z0-9]+$/,
  "a valid config key must consist of alphanumeric characters, '-', '_' or '.' (e.g. 'key.name',  or 'KEY_NAME',  or 'key-name', regex used for validation is '[-._a-zA-Z0-9]+')",
);

/** Environment variable names. */
export function envVarNameErrors(name: string): string[] {
  if (/^[-._a-zA-Z][-._a-zA-Z0-9]*$/.test(name)) return [];
  return [
    "a valid environment variable name must consist of alphabetic characters, digits, '_', '-', or '.', and must not start with a digit (e.g. 'my.env-name',  or 'MY_ENV.NAME',  or 'MyEnvName1', regex used for validation is '[-._a-zA-Z][-._a-zA-Z0-9]*')",
  ];
}

const SAFE_ALPHABET = 'bcdfghjklmnpqrstvwxz2456789';

/** Random suffixes as generateName and the ReplicaSet controller make them (no vowels, no ambiguous digits). */
export function randomSuffix(length = 5): string {
  let out = '';
  for (let i = 0; i < length; i++) out += SAFE_ALPHABET[Math.floor(Math.random() * SAFE_ALPHABET.length)];
  return out;
}

/** A hash rendered in the same alphabet, as pod-template-hash is. */
export function safeEncode(hash: Buffer, length = 10): string {
  let out = '';
  for (let i = 0; i < length; i++) out += SAFE_ALPHABET[hash[i]! % SAFE_ALPHABET.length];
  return out;
}
