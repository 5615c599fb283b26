// document-limits: what the documents function accepts — the types
// (functions/internal/documents.ContentTypes), the size of one file and the
// number per booking — the one place of the site that says so. The
// documents panel (lib/documents.js) checks a file here before asking to
// upload it; the server checks again. No DOM: node's unit tests import it.
//
//   TYPES                 file extension → content type
//   ACCEPT                the file chooser's accept attribute
//   MAX_BYTES, MAX_FILES  20 MiB a file, 20 files a booking
//   contentType(file)     the accepted type of {name, type} (by its type,
//                         else by its extension: browsers often give .p7m
//                         files no type), or ""
//   fileProblem(file)     "" when {name, type, size} may be sent, else the
//                         i18n key (under documents.) of why not: bad_type,
//                         empty_file, too_big
export const MAX_BYTES = 20 * 1024 * 1024;
export const MAX_FILES = 20;
export const TYPES = {
  pdf: 'application/pdf',
  jpg: 'image/jpeg',
  jpeg: 'image/jpeg',
  png: 'image/png',
  p7m: 'application/pkcs7-mime',
};
export const ACCEPT = [...Object.keys(TYPES).map((e) => `.${e}`), ...new Set(Object.values(TYPES))].join(',');

export function contentType(file) {
  if (Object.values(TYPES).includes(file.type)) return file.type;
  const ext = file.name.includes('.') ? file.name.split('.').pop().toLowerCase() : '';
  return Object.hasOwn(TYPES, ext) ? TYPES[ext] : '';
}

export function fileProblem(file) {
  if (!contentType(file)) return 'bad_type';
  if (file.size <= 0) return 'empty_file';
  if (file.size > MAX_BYTES) return 'too_big';
  return '';
}
