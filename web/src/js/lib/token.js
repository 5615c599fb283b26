// token.js: the secret of a mailed link (the manage and room pages). The
// link carries it in the URL fragment, which never reaches a server; the
// page moves it into sessionStorage under storageKey and out of the address
// bar (history.replaceState), so that it is neither bookmarked, shared by
// copying the address, nor lost on a reload.

/** takeToken returns the fragment's token (stored, then removed from the address bar) or the stored one. */
export function takeToken(storageKey) {
  let tok = '';
  try {
    tok = decodeURIComponent(location.hash.replace(/^#/, '')).trim();
  } catch {
    tok = '';
  }
  if (tok) {
    try {
      sessionStorage.setItem(storageKey, tok);
    } catch {
      // kept in memory only
    }
    history.replaceState(history.state, '', location.pathname + location.search);
    return tok;
  }
  try {
    return sessionStorage.getItem(storageKey) || '';
  } catch {
    return '';
  }
}
