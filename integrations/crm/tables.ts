// The CRM tables port (YT tables in the seed): where our applications for the mentorship programme
// go, and where the CRM's pairings, newbies' progress results and mentors' promocodes come from.
// Rows read from the CRM are decoded with Schema: another system writes them.
import { Schema } from "effect";

/** An application, written once per matching (`new_drivers`). */
export interface NewDriverRow {
  matching_id: string;
  park_id: string;
  driver_id: string;
  /** The geobase region of the newbie's last position; null when unknown or outside every region. */
  city: string | null;
  /** Drives a car rented from the park (fleet-rent). */
  rented_car: boolean;
  /** The personal id of the newbie's phone (never the number). */
  phone_pd_id: string;
  created_at: Date;
}

/** A pairing the CRM made (`distribution`); a row is new to us while `connected_dttm > original_connected_dttm` (or the latter is null). */
export const DistributionRow = Schema.Struct({
  newbie_matching_id: Schema.String,
  mentor_park_id: Schema.String,
  mentor_driver_id: Schema.String,
  connected_dttm: Schema.Date,
  original_connected_dttm: Schema.NullOr(Schema.Date),
});
export type DistributionRow = typeof DistributionRow.Type;

/** The days at which the CRM reports a newbie's progress. */
export const ResultDay = Schema.Literals([7, 14]);
export type ResultDay = typeof ResultDay.Type;

/**
 * A newbie's progress at day 7 or 14 (`results_to_send`). `result` holds the seed's fields as
 * strings: `rate_avg_7d`, `avg_dp_7d`, `sh_7d` at day 7; the `_14d` ones, `correct_answers` and
 * `passed_test_flg` at day 14.
 */
export const ResultRow = Schema.Struct({
  matching_id: Schema.String,
  day: ResultDay,
  result: Schema.Record(Schema.String, Schema.Unknown),
});
export type ResultRow = typeof ResultRow.Type;

/** The promocode a mentor earned for a newbie who finished (`finished_promocodes`). */
export const PromocodeRow = Schema.Struct({
  matching_id: Schema.String,
  promocode: Schema.String,
  issued_at: Schema.Date,
});
export type PromocodeRow = typeof PromocodeRow.Type;

/**
 * Every call fails with a `crm_*` partner error: `PartnerUnavailableError` (retry later) or
 * `PartnerRejectedError` (the CRM refuses the data; retrying the same call fails the same way).
 */
export interface CrmTables {
  /** Idempotent by `matching_id`: a second write of the same matching is a no-op (the first row stands). */
  writeNewDriver(row: NewDriverRow): Promise<void>;
  /** Pairings not imported yet (`connected_dttm > original_connected_dttm`, or the latter null), oldest first. */
  readDistribution(): Promise<readonly DistributionRow[]>;
  /**
   * Marks the pairing read with this `connected_dttm` imported (`original_connected_dttm` set to
   * it); never moves it back, and leaves a later re-pairing of the newbie new.
   */
  markDistributionImported(newbieMatchingId: string, connectedDttm: Date): Promise<void>;
  /** The results of those matchings at that day; matchings without one are absent. */
  readResults(matchingIds: readonly string[], day: ResultDay): Promise<readonly ResultRow[]>;
  /** The promocodes issued for those matchings; matchings without one are absent. */
  readPromocodes(matchingIds: readonly string[]): Promise<readonly PromocodeRow[]>;
}
