/**
 * The Python toolkit's layout that this project succeeds: no status columns, raw_data/fetched_at,
 * a segments row only once its details were fetched. Users also add columns and tables of their
 * own (my_notes, favourite, my_stuff).
 */
export const SEED_TOOLKIT_SCHEMA = `
CREATE TABLE activities (id INTEGER PRIMARY KEY, name TEXT, type TEXT, start_date TEXT, distance REAL,
  moving_time INTEGER, elapsed_time INTEGER, segment_efforts_processed INTEGER DEFAULT 0,
  raw_data TEXT, fetched_at TEXT, my_notes TEXT);
CREATE TABLE segment_efforts (id INTEGER PRIMARY KEY, activity_id INTEGER, segment_id INTEGER, name TEXT,
  elapsed_time INTEGER, start_date TEXT, raw_data TEXT);
CREATE TABLE segments (id INTEGER PRIMARY KEY, name TEXT, distance REAL, total_elevation_gain REAL,
  effort_count INTEGER, raw_data TEXT, fetched_at TEXT, favourite INTEGER);
CREATE TABLE my_stuff (x TEXT);
`;
