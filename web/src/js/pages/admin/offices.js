// The administration's offices: the list (edit, deactivate or reactivate:
// deactivating strands the office's bookings, lib: ./stranded.js) and the
// form to create one or edit the one chosen, with the office's click-day
// limits (the "limits" group: a number left empty is null, reserve's
// default).
import { $, clear, focus } from '../../lib/dom.js';
import { t } from '../../lib/i18n.js';
import { A, actions, button, call, data, entityForm, message, reload, row, stateText, table, taken, toggle } from './common.js';
import { change, setActive } from './stranded.js';

let editing = null; // the id of the office being edited

const fields = () => [
  { name: 'id', label: 'admin.offices.id', required: true, hint: 'admin.id_hint', disabled: !!editing },
  { name: 'name', label: 'admin.offices.name', required: true },
  { name: 'address', label: 'admin.offices.address' },
  { name: 'position', label: 'admin.position', type: 'number' },
  { name: 'description', label: 'admin.offices.description', type: 'textarea', col: 'col-12' },
  {
    name: 'limits',
    label: 'admin.offices.limits.legend',
    hint: 'admin.offices.limits.hint',
    type: 'group',
    col: 'col-12',
    fields: [
      { name: 'max_holds_per_client', label: 'admin.offices.limits.max_holds_per_client', hint: 'admin.offices.limits.max_holds_per_client_hint', type: 'number', min: 1, max: 100, nullable: true, col: 'col-lg-4' },
      { name: 'holds_per_minute_per_client', label: 'admin.offices.limits.holds_per_minute_per_client', hint: 'admin.offices.limits.holds_per_minute_per_client_hint', type: 'number', min: 1, max: 10000, nullable: true, col: 'col-lg-4' },
      { name: 'holds_per_minute_per_address', label: 'admin.offices.limits.holds_per_minute_per_address', hint: 'admin.offices.limits.holds_per_minute_per_address_hint', type: 'number', min: 1, max: 1000000, nullable: true, col: 'col-lg-4' },
    ],
  },
];

const path = (o) => `${A}/offices/${encodeURIComponent(o.id)}`;

function edit(id) {
  editing = id;
  render();
  focus($('#office-form-title'));
}

async function save(o, body) {
  if (o) {
    await change('PATCH', path(o), body, {
      back: '#office-form-title',
      onDone: async () => {
        await reload('offices');
        editing = null;
        render();
        message(t('admin.offices.saved', { name: body.name }));
      },
    });
    return;
  }
  await call('POST', `${A}/offices`, body);
  await reload('offices');
  render();
  message(t('admin.offices.created', { name: body.name }));
  focus($(`#office-row-${body.id} td`));
}

export function render() {
  const rows = data.offices.map((o) =>
    row(
      `office-row-${o.id}`,
      o.id,
      o.name,
      o.address,
      stateText(o.active),
      actions(button(`office-edit-${o.id}`, t('common.edit'), t('admin.edit_label', { name: o.name }), () => edit(o.id)), toggle(`office-toggle-${o.id}`, o.name, o.active, () => setActive('office', o, o.name, { path: path(o), lists: ['offices', 'services'], render }))),
    ),
  );
  clear($('#offices-list')).append(table('offices-table', 'admin.offices.caption', ['admin.offices.id', 'admin.offices.name', 'admin.offices.address', 'admin.state', 'admin.actions'], rows));
  const o = editing ? data.offices.find((x) => x.id === editing) : null;
  clear($('#office-form-box')).append(
    entityForm({
      prefix: 'office',
      title: o ? t('admin.offices.edit_title', { name: o.name }) : t('admin.offices.create_title'),
      fields: fields(),
      values: o || { position: 0 },
      submit: o ? t('admin.save') : t('admin.offices.create'),
      onCancel: o ? () => edit(null) : null,
      onSubmit: (body) => save(o, body),
      onError: (err) => !o && err?.code === 'conflict' && taken($('#office-id'), 'admin.id_taken'),
    }),
  );
}
