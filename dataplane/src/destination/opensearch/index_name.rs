//! OpenSearch index names with Firehose's rotation suffixes (docs/destinations.md, "OpenSearch"), from the record's
//! arrival time in UTC.

use chrono::{DateTime, Datelike, Duration, NaiveDate, Timelike, Utc, Weekday};
use crds::IndexRotationPeriod;

/// `<index>` or `<index>-<suffix>`.
pub fn index_name(base: &str, period: IndexRotationPeriod, at: DateTime<Utc>) -> String {
    match period {
        IndexRotationPeriod::NoRotation => base.to_owned(),
        IndexRotationPeriod::OneHour => format!(
            "{base}-{:04}-{:02}-{:02}-{:02}",
            at.year(),
            at.month(),
            at.day(),
            at.hour()
        ),
        IndexRotationPeriod::OneDay => {
            format!("{base}-{:04}-{:02}-{:02}", at.year(), at.month(), at.day())
        }
        IndexRotationPeriod::OneWeek => {
            let (year, week) = sunday_week(at.date_naive());
            format!("{base}-{year:04}-w{week:02}")
        }
        IndexRotationPeriod::OneMonth => format!("{base}-{:04}-{:02}", at.year(), at.month()),
    }
}

/// Weeks start on Sunday and week 1 is the first whole Sunday-to-Saturday week of the year;
/// days before it belong to the last week of the previous year. This reproduces Firehose's
/// documented example (2016-02-25 → `2016-w08`).
fn sunday_week(date: NaiveDate) -> (i32, u32) {
    let first_sunday = |year: i32| {
        let jan1 = NaiveDate::from_ymd_opt(year, 1, 1).unwrap_or(NaiveDate::MIN);
        let offset = (7 - jan1.weekday().num_days_from_sunday()) % 7;
        jan1 + Duration::days(offset as i64)
    };
    let mut year = date.year();
    let mut start = first_sunday(year);
    if date < start {
        year -= 1;
        start = first_sunday(year);
    }
    debug_assert_eq!(start.weekday(), Weekday::Sun);
    let week = (date - start).num_days() / 7 + 1;
    (year, week as u32)
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;

    #[test]
    fn firehose_examples() {
        let at = Utc.with_ymd_and_hms(2016, 2, 25, 13, 0, 0).unwrap();
        let name = |p| index_name("myindex", p, at);
        assert_eq!(name(IndexRotationPeriod::NoRotation), "myindex");
        assert_eq!(name(IndexRotationPeriod::OneHour), "myindex-2016-02-25-13");
        assert_eq!(name(IndexRotationPeriod::OneDay), "myindex-2016-02-25");
        assert_eq!(name(IndexRotationPeriod::OneWeek), "myindex-2016-w08");
        assert_eq!(name(IndexRotationPeriod::OneMonth), "myindex-2016-02");
    }

    #[test]
    fn weeks_start_on_sunday_and_the_year_starts_with_a_whole_week() {
        let d = |y, m, day| NaiveDate::from_ymd_opt(y, m, day).unwrap();
        // 2016-01-03 is the first Sunday of 2016; the 1st and 2nd belong to 2015's last week.
        assert_eq!(sunday_week(d(2016, 1, 2)), (2015, 52));
        assert_eq!(sunday_week(d(2016, 1, 3)), (2016, 1));
        assert_eq!(sunday_week(d(2016, 1, 9)), (2016, 1));
        assert_eq!(sunday_week(d(2016, 1, 10)), (2016, 2));
        assert_eq!(sunday_week(d(2016, 2, 20)), (2016, 7));
        assert_eq!(sunday_week(d(2016, 2, 21)), (2016, 8));
        // A year starting on a Sunday: week 1 starts on January 1st.
        assert_eq!(sunday_week(d(2017, 1, 1)), (2017, 1));
        assert_eq!(sunday_week(d(2016, 12, 31)), (2016, 52));
    }
}
