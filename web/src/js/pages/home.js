// The home page: what the counter is, and every office with its services,
// each with a "Prenota" link to /prenota/?ufficio=&servizio=.
import { get } from '../lib/api.js';
import { $, clear, h } from '../lib/dom.js';
import { formatDuration } from '../lib/format.js';
import { onLangChange, t } from '../lib/i18n.js';
import { initPage } from '../lib/layout.js';
import { problemText } from '../lib/problems.js';

initPage();

let offices = null;
let failure = null;

function render() {
  const box = clear($('#offices'));
  const status = $('#offices-status');
  if (failure) {
    status.removeAttribute('data-i18n');
    status.textContent = problemText(failure);
    return;
  }
  if (!offices) return;
  status.removeAttribute('data-i18n');
  status.textContent = '';
  for (const o of offices) {
    const services = o.services || [];
    const booking = (s) => `/prenota/?${new URLSearchParams(s ? { ufficio: o.id, servizio: s.id } : { ufficio: o.id })}`;
    box.append(
      h(
        'div',
        { class: 'col-12 col-lg-6' },
        h(
          'article',
          { class: 'card-wrapper card-space office-card', id: `office-${o.id}`, 'aria-labelledby': `office-${o.id}-name` },
          h(
            'div',
            { class: 'card card-bg no-after' },
            h(
              'div',
              { class: 'card-body' },
              h('h3', { class: 'card-title h5', id: `office-${o.id}-name`, text: o.name }),
              o.description ? h('p', { class: 'card-text', text: o.description }) : null,
              services.length
                ? h(
                    'ul',
                    { class: 'service-list' },
                    services.map((s) =>
                      h(
                        'li',
                        {},
                        h('div', {}, h('span', { class: 'fw-semibold', text: s.name }), h('span', { class: 'service-meta', text: t('home.duration', { duration: formatDuration(s.duration_minutes) }) })),
                        h(
                          'a',
                          { class: 'btn btn-outline-primary btn-sm book-service', href: booking(s), id: `book-${s.id}` },
                          h('span', { 'aria-hidden': 'true', text: t('home.book_service') }),
                          h('span', { class: 'visually-hidden', text: t('home.book_service_label', { service: s.name }) }),
                        ),
                      ),
                    ),
                  )
                : h('p', { text: t('home.no_services') }),
              h('a', { class: 'read-more book-office', href: booking(null), id: `book-office-${o.id}`, text: t('home.book_office') }),
            ),
          ),
        ),
      ),
    );
  }
}

onLangChange(render);

try {
  offices = await get('/api/offices');
  if (!Array.isArray(offices)) offices = offices?.offices || [];
} catch (err) {
  failure = err;
}
render();
