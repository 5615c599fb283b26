// The administration's closures: days an office, or every office, takes no
// appointments (the national holidays and the patron's day are known
// already). The list (remove) and the form that adds one, which may strand
// the bookings of those days (./stranded.js).
import { $, clear, focus } from '../../lib/dom.js';
import { t } from '../../lib/i18n.js';
import { A, actions, button, call, data, dayLabel, entityForm, failed, message, officeName, reload, row, table } from './common.js';
import { change } from './stranded.js';

const fields = () => [
  { name: 'office_id', label: 'admin.closures.office', type: 'select', options: [['', t('admin.closures.every_office')], ...data.offices.map((o) => [o.id, o.name])] },
  { name: 'reason', label: 'admin.closures.reason' },
  { name: 'first_day', label: 'admin.closures.first_day', type: 'date', required: true },
  { name: 'last_day', label: 'admin.closures.last_day', type: 'date', required: true },
];

async function remove(c) {
  try {
    await call('DELETE', `${A}/closures/${c.id}`);
    await reload('closures');
    render();
    message(t('admin.closures.removed'));
    focus($('#closures-title'));
  } catch (err) {
    failed(err, $('#closure-error'));
  }
}

export function render() {
  const rows = data.closures.map((c) =>
    row(
      `closure-row-${c.id}`,
      c.office_id ? officeName(c.office_id) : t('admin.closures.every_office'),
      c.first_day === c.last_day ? dayLabel(c.first_day) : `${dayLabel(c.first_day)} – ${dayLabel(c.last_day)}`,
      c.reason,
      actions(button(`closure-remove-${c.id}`, t('admin.closures.remove'), t('admin.closures.remove_label', { when: dayLabel(c.first_day) }), () => remove(c), 'btn-outline-danger')),
    ),
  );
  clear($('#closures-list')).append(table('closures-table', 'admin.closures.caption', ['admin.closures.office', 'admin.closures.days', 'admin.closures.reason', 'admin.actions'], rows));
  clear($('#closure-form-box')).append(
    entityForm({
      prefix: 'closure',
      title: t('admin.closures.add_title'),
      fields: fields(),
      submit: t('admin.closures.add'),
      onSubmit: (v) =>
        change('POST', `${A}/closures`, { ...v, office_id: v.office_id || null }, {
          back: '#closure-form-title',
          onDone: async (r) => {
            await reload('closures');
            render();
            const n = r?.cancelled?.length || 0;
            message(t('admin.closures.added') + (n ? ` ${t('admin.stranded.result_cancelled', { n })}` : ''));
          },
        }),
    }),
  );
}
