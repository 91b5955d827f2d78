"""Tables of the knowledge base.

Every row carries ``release_id`` (a row of ``releases``), so every fact can cite its file and
release. Tables are created empty, loaded, then indexed (``INDEXES``) - indexing after the load
is several times faster than maintaining indexes during it.
"""

from __future__ import annotations

SCHEMA_VERSION = 3

MAIN_TABLES = """
CREATE TABLE meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE releases (
  id INTEGER PRIMARY KEY, family TEXT NOT NULL, release TEXT NOT NULL, file TEXT NOT NULL,
  path TEXT NOT NULL, layout TEXT NOT NULL, store TEXT NOT NULL,
  effective_from TEXT NOT NULL, effective_to TEXT NOT NULL,
  sha256 TEXT NOT NULL, rows INTEGER NOT NULL
);
CREATE TABLE rvus (
  release_id INTEGER NOT NULL, hcpcs TEXT NOT NULL, modifier TEXT NOT NULL, line INTEGER NOT NULL,
  description TEXT NOT NULL, status TEXT NOT NULL, not_used_for_medicare TEXT NOT NULL,
  work REAL, pe_nonfacility REAL, pe_nonfacility_na TEXT NOT NULL, pe_facility REAL,
  pe_facility_na TEXT NOT NULL, mp REAL, total_nonfacility REAL, total_facility REAL,
  pctc TEXT NOT NULL, global_days TEXT NOT NULL, preop REAL, intraop REAL, postop REAL,
  mult_proc TEXT NOT NULL, bilateral TEXT NOT NULL, assistant TEXT NOT NULL,
  co_surgeon TEXT NOT NULL, team TEXT NOT NULL, qpp TEXT NOT NULL, endo_base TEXT NOT NULL,
  conversion_factor REAL, phys_supervision TEXT NOT NULL, calc_flag TEXT NOT NULL,
  diag_imaging_family TEXT NOT NULL, opps_pe_nonfacility REAL, opps_pe_facility REAL, opps_mp REAL,
  PRIMARY KEY (hcpcs, release_id, modifier)
) WITHOUT ROWID;
CREATE TABLE gpcis (
  release_id INTEGER NOT NULL, mac TEXT NOT NULL, state TEXT NOT NULL, locality TEXT NOT NULL,
  name TEXT NOT NULL, pw_gpci REAL, pw_gpci_floor REAL NOT NULL, pe_gpci REAL NOT NULL,
  mp_gpci REAL NOT NULL, line INTEGER NOT NULL,
  PRIMARY KEY (release_id, mac, locality)
) WITHOUT ROWID;
CREATE TABLE locality_counties (
  release_id INTEGER NOT NULL, mac TEXT NOT NULL, locality TEXT NOT NULL, state TEXT NOT NULL,
  fee_schedule_area TEXT NOT NULL, counties TEXT NOT NULL, line INTEGER NOT NULL
);
CREATE TABLE zip_localities (
  release_id INTEGER NOT NULL, zip TEXT NOT NULL, state TEXT NOT NULL, mac TEXT NOT NULL,
  locality TEXT NOT NULL, rural TEXT NOT NULL, lab_cb_locality TEXT NOT NULL, rural2 TEXT NOT NULL,
  plus4 TEXT NOT NULL, partb_indicator TEXT NOT NULL, year_quarter TEXT NOT NULL,
  PRIMARY KEY (zip, release_id)
) WITHOUT ROWID;
CREATE TABLE anes_cfs (
  release_id INTEGER NOT NULL, mac TEXT NOT NULL, locality TEXT NOT NULL, name TEXT NOT NULL,
  cf REAL NOT NULL, national_cf REAL NOT NULL, PRIMARY KEY (release_id, mac, locality)
) WITHOUT ROWID;
CREATE TABLE opps_caps (
  release_id INTEGER NOT NULL, hcpcs TEXT NOT NULL, modifier TEXT NOT NULL, status TEXT NOT NULL,
  mac TEXT NOT NULL, locality TEXT NOT NULL, facility REAL NOT NULL, nonfacility REAL NOT NULL,
  PRIMARY KEY (hcpcs, release_id, modifier, mac, locality)
) WITHOUT ROWID;
CREATE TABLE asc_rates (
  release_id INTEGER NOT NULL, addendum TEXT NOT NULL, hcpcs TEXT NOT NULL, marker TEXT NOT NULL,
  description TEXT NOT NULL,
  multiple_discount TEXT NOT NULL, passthrough_expiration TEXT NOT NULL,
  payment_indicator TEXT NOT NULL, weight REAL, rate REAL, ira_copay REAL, line INTEGER NOT NULL
);
CREATE TABLE asc_device_offsets (
  release_id INTEGER NOT NULL, hcpcs TEXT NOT NULL, marker TEXT NOT NULL, description TEXT NOT NULL,
  payment_indicator TEXT NOT NULL, apc TEXT NOT NULL, apc_offset_pct REAL, opps_rate REAL,
  offset_pct REAL, offset_amount REAL, line INTEGER NOT NULL
);
CREATE TABLE asc_exclusions (
  release_id INTEGER NOT NULL, hcpcs TEXT NOT NULL, description TEXT NOT NULL, line INTEGER NOT NULL
);
CREATE TABLE asc_indicators (
  release_id INTEGER NOT NULL, kind TEXT NOT NULL, code TEXT NOT NULL, definition TEXT NOT NULL
);
CREATE TABLE hcpcs_codes (
  release_id INTEGER NOT NULL, code TEXT NOT NULL, seqnum TEXT NOT NULL, record_id TEXT NOT NULL,
  long_description TEXT NOT NULL, line INTEGER NOT NULL
);
CREATE TABLE icd10cm_codes (
  release_id INTEGER NOT NULL, code TEXT NOT NULL, compact TEXT NOT NULL, kind TEXT NOT NULL,
  billable INTEGER NOT NULL, parent TEXT, chapter TEXT NOT NULL, block TEXT NOT NULL,
  description TEXT NOT NULL, seq INTEGER NOT NULL
);
CREATE TABLE icd10cm_notes (
  release_id INTEGER NOT NULL, code TEXT NOT NULL, note_type TEXT NOT NULL, seq INTEGER NOT NULL,
  text TEXT NOT NULL
);
CREATE TABLE icd10cm_index_terms (
  release_id INTEGER NOT NULL, kind TEXT NOT NULL, path_text TEXT NOT NULL, code TEXT NOT NULL,
  col TEXT NOT NULL, line INTEGER NOT NULL
);
CREATE TABLE icd10cm_guidelines (
  release_id INTEGER NOT NULL, number TEXT NOT NULL, title TEXT NOT NULL, parent TEXT NOT NULL,
  depth INTEGER NOT NULL, page INTEGER NOT NULL, page_end INTEGER NOT NULL, seq INTEGER NOT NULL,
  text TEXT NOT NULL
);
CREATE TABLE aoc_edits (
  release_id INTEGER NOT NULL, addon_code TEXT NOT NULL, edit_type TEXT NOT NULL,
  addon_deleted TEXT, primary_code TEXT NOT NULL, primary_deleted TEXT, effective TEXT,
  deleted TEXT, notes TEXT NOT NULL, line INTEGER NOT NULL
);
CREATE TABLE mue_limits (
  release_id INTEGER NOT NULL, hcpcs TEXT NOT NULL, units INTEGER NOT NULL, mai TEXT NOT NULL,
  mai_label TEXT NOT NULL, rationale TEXT NOT NULL, line INTEGER NOT NULL,
  PRIMARY KEY (hcpcs, release_id)
) WITHOUT ROWID;
CREATE TABLE clfs_rates (
  release_id INTEGER NOT NULL, hcpcs TEXT NOT NULL, modifier TEXT NOT NULL, effective TEXT NOT NULL,
  indicator TEXT NOT NULL, rate REAL, short_description TEXT NOT NULL,
  long_description TEXT NOT NULL, extended_description TEXT NOT NULL, line INTEGER NOT NULL
);
CREATE TABLE dmepos_fees (
  release_id INTEGER NOT NULL, hcpcs TEXT NOT NULL, modifier TEXT NOT NULL, modifier2 TEXT NOT NULL,
  jurisdiction TEXT NOT NULL, category TEXT NOT NULL, ceiling REAL, floor REAL,
  state_fees TEXT NOT NULL, description TEXT NOT NULL, line INTEGER NOT NULL
);
CREATE TABLE asp_limits (
  release_id INTEGER NOT NULL, hcpcs TEXT NOT NULL, short_description TEXT NOT NULL,
  dosage TEXT NOT NULL, payment_limit REAL, coinsurance_pct REAL, vaccine_awp_pct REAL,
  vaccine_limit REAL, blood_awp_pct REAL, blood_limit REAL, clotting_factor TEXT NOT NULL,
  notes TEXT NOT NULL, line INTEGER NOT NULL
);
"""

PTP_TABLES = """
CREATE TABLE ptp_rationales (id INTEGER PRIMARY KEY, text TEXT NOT NULL UNIQUE);
CREATE TABLE ptp_edits (
  release_id INTEGER NOT NULL, column_1 TEXT NOT NULL, column_2 TEXT NOT NULL,
  prior_1996 TEXT NOT NULL, effective INTEGER, deleted INTEGER, modifier INTEGER NOT NULL,
  rationale_id INTEGER NOT NULL
);
"""

MAIN_INDEXES = """
CREATE INDEX locality_counties_key ON locality_counties (release_id, mac, locality);
CREATE INDEX asc_rates_key ON asc_rates (hcpcs, release_id);
CREATE INDEX asc_device_offsets_key ON asc_device_offsets (hcpcs, release_id);
CREATE INDEX asc_exclusions_key ON asc_exclusions (hcpcs, release_id);
CREATE INDEX hcpcs_codes_key ON hcpcs_codes (code, release_id);
CREATE INDEX icd10cm_codes_key ON icd10cm_codes (compact, release_id);
CREATE INDEX icd10cm_codes_parent ON icd10cm_codes (parent, release_id);
CREATE INDEX icd10cm_notes_key ON icd10cm_notes (code, release_id);
CREATE INDEX icd10cm_index_terms_key ON icd10cm_index_terms (code, release_id);
CREATE INDEX aoc_edits_addon ON aoc_edits (addon_code, release_id);
CREATE INDEX aoc_edits_primary ON aoc_edits (primary_code, release_id);
CREATE INDEX clfs_rates_key ON clfs_rates (hcpcs, release_id);
CREATE INDEX dmepos_fees_key ON dmepos_fees (hcpcs, release_id);
CREATE INDEX asp_limits_key ON asp_limits (hcpcs, release_id);
"""

# Which optional tables hold rows for a CPT/HCPCS code (in any release): a code page skips the
# queries that would come back empty. Bit i of ``mask`` is ``PRESENCE[i]``.
PRESENCE = (
    ("hcpcs", "hcpcs_codes", "code"),
    ("clfs", "clfs_rates", "hcpcs"),
    ("dmepos", "dmepos_fees", "hcpcs"),
    ("asp", "asp_limits", "hcpcs"),
    ("addon", "aoc_edits", "addon_code"),
    ("primary", "aoc_edits", "primary_code"),
    ("asc", "asc_rates", "hcpcs"),
    ("asc_excluded", "asc_exclusions", "hcpcs"),
    ("opps_cap", "opps_caps", "hcpcs"),
)
PRESENCE_SQL = (
    "CREATE TABLE code_presence (code TEXT PRIMARY KEY, mask INTEGER NOT NULL) WITHOUT ROWID;\n"
    "INSERT INTO code_presence SELECT code, sum(bit) FROM ("
    + " UNION ".join(
        f"SELECT DISTINCT {col} AS code, {1 << i} AS bit FROM {table}" for i, (_, table, col) in enumerate(PRESENCE)
    )
    + ") GROUP BY code;"
)

PTP_INDEXES = """
CREATE INDEX ptp_edits_col1 ON ptp_edits (column_1, column_2, deleted, effective, modifier, rationale_id);
CREATE INDEX ptp_edits_col2 ON ptp_edits (column_2, column_1, deleted, effective, modifier, rationale_id);
"""

# How many edits each code has in each column, by (effective, deleted) dates: counting the
# edits in force on a date sums a few rows instead of scanning thousands of index entries.
# A missing effective date is stored as 0 and a missing deletion date as 99999999.
PTP_COUNTS = """
CREATE TABLE ptp_counts (
  code TEXT NOT NULL, col INTEGER NOT NULL, effective INTEGER NOT NULL, deleted INTEGER NOT NULL,
  n INTEGER NOT NULL, PRIMARY KEY (code, col, effective, deleted)
) WITHOUT ROWID;
INSERT INTO ptp_counts SELECT column_1, 1, coalesce(effective, 0), coalesce(deleted, 99999999), count(*)
  FROM ptp_edits GROUP BY 1, 3, 4;
INSERT INTO ptp_counts SELECT column_2, 2, coalesce(effective, 0), coalesce(deleted, 99999999), count(*)
  FROM ptp_edits GROUP BY 1, 3, 4;
"""
