// The developers' page: the API reference, rendered from
// /sviluppatori/openapi.yaml when the site is built; the script only runs
// the shared frame (language switch, translations).
import { initPage } from '../lib/layout.js';

initPage();
