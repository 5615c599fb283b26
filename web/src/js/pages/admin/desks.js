// A service's desks: each active desk is one more appointment at the same
// time. The list (deactivating a desk moves or strands its bookings:
// ./stranded.js) and the form that adds one.
import { $, focus, h } from '../../lib/dom.js';
import { t } from '../../lib/i18n.js';
import { A, actions, call, entityForm, message, reload, row, stateText, table, toggle } from './common.js';
import { setActive } from './stranded.js';

/** desksEditor is the desks' list and form of s; rerender draws the section again. */
export function desksEditor(s, rerender) {
  const flip = (d) => setActive('desk', d, d.label, { path: `${A}/desks/${d.id}`, lists: ['services'], render: rerender });
  const rows = (s.desks || []).map((d) => row(`desk-row-${d.id}`, d.label, stateText(d.active), actions(toggle(`desk-toggle-${d.id}`, d.label, d.active, () => flip(d)))));
  return entityForm({
    prefix: 'desk',
    title: t('admin.desks.title', { name: s.name }),
    fields: [{ name: 'label', label: 'admin.desks.new_label', required: true, col: 'col-12' }],
    submit: t('admin.desks.add'),
    submitId: 'desk-add',
    before: [h('p', { text: t('admin.desks.intro') }), table('desks-table', 'admin.desks.caption', ['admin.desks.label', 'admin.state', 'admin.actions'], rows)],
    onSubmit: async ({ label }) => {
      await call('POST', `${A}/services/${encodeURIComponent(s.id)}/desks`, { label: label.trim() });
      await reload('services');
      rerender();
      message(t('admin.desks.added', { name: label.trim() }));
      focus($('#desk-label'));
    },
  });
}
