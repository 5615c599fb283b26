-- Demo data: the phase-1 offices and services of the Sportello virtuale of
-- the Comune di Bari (announcement of January 2021). Durations and hours are
-- plausible choices, editable by administrators. Idempotent.

INSERT INTO offices (id, name, description, position) VALUES
  ('urp', 'URP – Ufficio relazioni con il pubblico', 'Informazioni generali e orientamento sui servizi del Comune.', 1),
  ('ambiente', 'Ripartizione Tutela Ambiente, Sanità e Igiene', 'Autorizzazioni ambientali e igienico-sanitarie.', 2),
  ('urbanistica', 'Ripartizione Urbanistica ed Edilizia privata', 'Edilizia privata, pianificazione attuativa, paesaggio e controllo del territorio.', 3)
ON CONFLICT (id) DO NOTHING;

INSERT INTO services (id, office_id, name, description, duration_minutes, buffer_minutes, min_notice_minutes, horizon_days, cancel_cutoff_minutes, what_to_bring, position) VALUES
  ('urp-informazioni', 'urp', 'Informazione generale e orientamento',
   'Informazioni sui servizi comunali e indicazioni sull''ufficio competente.',
   15, 5, 120, 30, 60, 'Un documento di identità.', 1),
  ('scia-ambientale-fumi', 'ambiente', 'Sistemi di evacuazione fumi per attività di ristorazione – SCIA ambientale',
   'Chiarimenti sulla SCIA ambientale per i sistemi di evacuazione fumi di ristoranti e attività di somministrazione.',
   30, 10, 1440, 60, 1440, 'Documento di identità; numero di pratica SUAP, se presente; planimetria del locale e relazione tecnica sull''impianto di evacuazione fumi.', 1),
  ('acque-reflue', 'ambiente', 'Gestione di acque reflue domestiche e assimilate – autorizzazioni',
   'Autorizzazioni allo scarico di acque reflue domestiche e assimilate non in pubblica fognatura.',
   30, 10, 1440, 60, 1440, 'Documento di identità; estremi catastali dell''immobile; eventuale autorizzazione precedente.', 2),
  ('sue', 'urbanistica', 'SUE – Sportello unico per l''edilizia',
   'Pratiche edilizie (CILA, SCIA, permesso di costruire), stato delle istanze e integrazioni.',
   30, 10, 1440, 60, 1440, 'Documento di identità; numero di protocollo della pratica; elaborati tecnici in PDF.', 1),
  ('piani-lottizzazione', 'urbanistica', 'Piani di lottizzazione',
   'Piani urbanistici attuativi di iniziativa privata: istruttoria, convenzioni, varianti.',
   45, 15, 2880, 60, 2880, 'Documento di identità; riferimenti del piano; elaborati di progetto in PDF.', 2),
  ('paesaggio', 'urbanistica', 'Paesaggio',
   'Autorizzazioni paesaggistiche e accertamenti di compatibilità paesaggistica.',
   30, 10, 1440, 60, 1440, 'Documento di identità; relazione paesaggistica; documentazione fotografica.', 3),
  ('controllo-territorio', 'urbanistica', 'Controllo del territorio e abusivismo edilizio',
   'Segnalazioni, ordinanze, sanatorie e procedimenti di repressione dell''abusivismo edilizio.',
   30, 10, 1440, 60, 1440, 'Documento di identità; numero del provvedimento o della segnalazione, se presente.', 4)
ON CONFLICT (id) DO NOTHING;

-- Desks: parallel capacity per service.
INSERT INTO desks (service_id, label)
SELECT s.id, 'Postazione ' || n
FROM services s
JOIN (VALUES ('urp-informazioni', 3), ('scia-ambientale-fumi', 1), ('acque-reflue', 1), ('sue', 3),
             ('piani-lottizzazione', 1), ('paesaggio', 2), ('controllo-territorio', 1)) AS c (service_id, desks)
  ON c.service_id = s.id
CROSS JOIN LATERAL generate_series(1, c.desks) AS n
ON CONFLICT (service_id, label) DO NOTHING;

-- Opening hours: mornings Monday to Friday, and Tuesday and Thursday
-- afternoons, as many Italian municipal offices do.
INSERT INTO opening_hours (service_id, weekday, opens, closes)
SELECT s.id, d, '09:00'::time, '12:30'::time FROM services s CROSS JOIN generate_series(1, 5) AS d
UNION ALL
SELECT s.id, d, '15:30'::time, '17:30'::time FROM services s CROSS JOIN (VALUES (2), (4)) AS t (d)
ON CONFLICT (service_id, weekday, opens) DO NOTHING;

-- Demo operators: one per office and one administrator (every office).
-- The password of each is "sportello-demo" (argon2id, m=19456 KiB, t=2,
-- p=1). For demonstrations only: change or deactivate them anywhere real.
INSERT INTO operators (id, email, display_name, password_hash, role, created_at) VALUES
  ('0d6f5a3e-0000-4000-8000-000000000001', 'operatore.urp@comune.bari.it', 'Operatore URP',
   '$argon2id$v=19$m=19456,t=2,p=1$rYwWdJVRMalmroBsiERolw$ccsdlH4MqFr6E0omwEYfxFaVPejpvf+gqyJ3dEe6Zdw', 'operator', now()),
  ('0d6f5a3e-0000-4000-8000-000000000002', 'operatore.ambiente@comune.bari.it', 'Operatore Ambiente',
   '$argon2id$v=19$m=19456,t=2,p=1$rYwWdJVRMalmroBsiERolw$ccsdlH4MqFr6E0omwEYfxFaVPejpvf+gqyJ3dEe6Zdw', 'operator', now()),
  ('0d6f5a3e-0000-4000-8000-000000000003', 'operatore.urbanistica@comune.bari.it', 'Operatore Urbanistica',
   '$argon2id$v=19$m=19456,t=2,p=1$rYwWdJVRMalmroBsiERolw$ccsdlH4MqFr6E0omwEYfxFaVPejpvf+gqyJ3dEe6Zdw', 'operator', now()),
  ('0d6f5a3e-0000-4000-8000-000000000004', 'admin@comune.bari.it', 'Amministratore',
   '$argon2id$v=19$m=19456,t=2,p=1$rYwWdJVRMalmroBsiERolw$ccsdlH4MqFr6E0omwEYfxFaVPejpvf+gqyJ3dEe6Zdw', 'administrator', now())
ON CONFLICT DO NOTHING;

INSERT INTO operator_offices (operator_id, office_id) VALUES
  ('0d6f5a3e-0000-4000-8000-000000000001', 'urp'),
  ('0d6f5a3e-0000-4000-8000-000000000002', 'ambiente'),
  ('0d6f5a3e-0000-4000-8000-000000000003', 'urbanistica')
ON CONFLICT DO NOTHING;
