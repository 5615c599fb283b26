// A service's weekly hours: per weekday any number of periods (opens,
// closes), edited as a draft and saved all at once (PUT …/hours), which
// may strand bookings (./stranded.js). Each time input carries the API
// field of its period (hours[<n>].opens, in the order the body lists them),
// so a problem the API names shows next to it.
import { $, focus, h } from '../../lib/dom.js';
import { weekdayNames } from '../../lib/format.js';
import { t } from '../../lib/i18n.js';
import { A, entityForm, message, reload } from './common.js';
import { change } from './stranded.js';

let draft = null; // {serviceId, days: {1: [{opens, closes}], ..., 7: [...]}}

function draftFor(s) {
  if (draft?.serviceId === s.id) return draft;
  const days = {};
  for (let d = 1; d <= 7; d++) days[d] = [];
  for (const x of s.opening_hours || []) days[x.weekday].push({ opens: x.opens, closes: x.closes });
  draft = { serviceId: s.id, days };
  return draft;
}

// sync reads the inputs back into the draft.
function sync() {
  for (let d = 1; d <= 7; d++) {
    draft.days[d] = draft.days[d].map((p, i) => ({
      opens: $(`#hours-${d}-${i}-opens`)?.value ?? p.opens,
      closes: $(`#hours-${d}-${i}-closes`)?.value ?? p.closes,
    }));
  }
}

// next is the period a new one after last proposes: from its closing, an hour long.
function next(last) {
  if (!last) return { opens: '09:00', closes: '12:30' };
  const closes = last.closes < '23:00' ? `${String(Number(last.closes.slice(0, 2)) + 1).padStart(2, '0')}${last.closes.slice(2)}` : '23:59';
  return { opens: last.closes, closes };
}

function timeField(id, field, label, value) {
  return h(
    'div',
    { class: 'field' },
    h('label', { for: id, text: label }),
    h('input', { type: 'time', class: 'form-control', id, 'data-field': field, value, required: true, 'aria-describedby': `${id}-error` }),
    h('div', { class: 'invalid-feedback', id: `${id}-error` }),
  );
}

/** hoursEditor is the form of s's hours; rerender draws the section again. */
export function hoursEditor(s, rerender) {
  const { days } = draftFor(s);
  const names = weekdayNames('long');
  const edit = (fn, target) => () => {
    sync();
    fn();
    rerender();
    focus($(target()));
  };
  let n = 0; // the period's index in the body
  const dayBoxes = [];
  for (let d = 1; d <= 7; d++) {
    const day = names[d - 1];
    const fs = h('fieldset', { class: 'admin-hours-day', id: `hours-day-${d}` }, h('legend', { text: day }));
    if (!days[d].length) fs.append(h('p', { class: 'mb-2', id: `hours-${d}-closed`, text: t('admin.hours.closed') }));
    days[d].forEach((p, i) => {
      const base = `hours-${d}-${i}`;
      const at = `hours[${n++}]`;
      fs.append(
        h(
          'div',
          { class: 'admin-period', id: base },
          timeField(`${base}-opens`, `${at}.opens ${at}.weekday ${at}`, t('admin.hours.opens_label', { day, n: i + 1 }), p.opens),
          timeField(`${base}-closes`, `${at}.closes`, t('admin.hours.closes_label', { day, n: i + 1 }), p.closes),
          h('button', {
            type: 'button',
            class: 'btn btn-outline-danger btn-sm',
            id: `${base}-remove`,
            text: t('admin.hours.remove'),
            'aria-label': t('admin.hours.remove_label', { day, n: i + 1 }),
            on: { click: edit(() => days[d].splice(i, 1), () => `#hours-add-${d}`) },
          }),
        ),
      );
    });
    fs.append(
      h('button', {
        type: 'button',
        class: 'btn btn-outline-primary btn-sm',
        id: `hours-add-${d}`,
        text: t('admin.hours.add'),
        'aria-label': t('admin.hours.add_label', { day }),
        on: { click: edit(() => days[d].push(next(days[d].at(-1))), () => `#hours-${d}-${days[d].length - 1}-opens`) },
      }),
    );
    dayBoxes.push(fs);
  }
  return entityForm({
    prefix: 'hours',
    title: t('admin.hours.title', { name: s.name }),
    fields: [],
    submit: t('admin.hours.save'),
    submitId: 'hours-save',
    extra: [h('p', { text: t('admin.hours.intro') }), ...dayBoxes],
    onSubmit: async () => {
      sync();
      const hours = [];
      for (let d = 1; d <= 7; d++) for (const p of days[d]) hours.push({ weekday: d, ...p });
      await change('PUT', `${A}/services/${encodeURIComponent(s.id)}/hours`, { hours }, {
        back: '#hours-form-title',
        onDone: async () => {
          draft = null;
          await reload('services');
          rerender();
          message(t('admin.hours.saved', { name: s.name }));
          focus($('#hours-form-title'));
        },
      });
    },
  });
}
