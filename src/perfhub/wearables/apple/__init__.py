"""Apple Health export import: stream ``export.xml`` (or ``export.zip``) into canonical daily payloads.

The pure part (no database, no HTTP), in the order a file goes through it:

- :mod:`.archive` opens export.xml, or export.zip's ``HealthData`` member, within :mod:`.limits`;
- :mod:`.document` checks the prolog (expat, DTD blanked) and that the file ends with
  ``</HealthData>``;
- :mod:`.scanner` finds the SDNN, resting-HR and sleep ``Record`` elements in the bytes, and
  :mod:`.records` (with :mod:`.attributes`) reads and checks each one;
- :mod:`.nights` makes one vendor's sleep records into nights, :mod:`.days` makes the records into
  canonical day payloads, :mod:`.summary` says what was read and left out;
- :mod:`.importer` (:func:`~perfhub.wearables.apple.importer.import_days`) does all of that for one
  file; :mod:`.errors` says why a file is refused, quoting it safely.

Around it, :mod:`.service` stores what was read (``perfhub import apple-health`` and the upload
endpoint) and :mod:`.routes` is the upload endpoint (:mod:`.schemas`: its result).
"""
