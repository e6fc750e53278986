import datetime as dt

import pytest
from hypothesis import assume, given
from hypothesis import strategies as st

from receiptcore.adapters.extractors.ocr.dates import find_dates, find_time

dates = st.dates(min_value=dt.date(2000, 1, 1), max_value=dt.date(2039, 12, 31))
MONTHS = ["JAN", "FEB", "MAR", "APR", "MAY", "JUN", "JUL", "AUG", "SEP", "OCT", "NOV", "DEC"]


def _readings(text: str, month_first: bool = False) -> set[dt.date]:
    return {r for m in find_dates(text, month_first=month_first) for r in m.readings}


@given(dates, st.sampled_from(["/", "-", "."]))
def test_day_first_numeric_dates_read_back(day: dt.date, sep: str) -> None:
    text = f"Date: {day.day:02d}{sep}{day.month:02d}{sep}{day.year}"
    assert day in _readings(text)
    assert find_dates(text)[0].value == day or day.day <= 12


@given(dates)
def test_month_first_is_preferred_with_a_us_hint(day: dt.date) -> None:
    text = f"{day.month}/{day.day}/{day.year % 100:02d}"
    assert find_dates(text, month_first=True)[0].value == day


@given(dates, st.times())
def test_year_first_dates_glued_to_a_time(day: dt.date, time: dt.time) -> None:
    text = f"Date:{day.isoformat()}{time:%H:%M:%S}"
    assert find_dates(text)[0].value == day


@given(dates)
def test_dates_with_month_names(day: dt.date) -> None:
    month = MONTHS[day.month - 1]
    assert find_dates(f"{day.day} {month} {day.year % 100:02d}")[0].value == day
    assert find_dates(f"{month.title()} {day.day}, {day.year}")[0].value == day
    assert find_dates(f"{day.day:02d}/{month}/{day.year}")[0].value == day


@given(dates)
def test_an_unambiguous_date_has_one_reading(day: dt.date) -> None:
    if day.day > 12:
        assert _readings(f"{day.day}/{day.month}/{day.year}") == {day}


@pytest.mark.parametrize("text", ["31/02/2018", "2018-13-01", "99/99/99", "TEL 03-2164 1400"])
def test_impossible_dates_are_not_dates(text: str) -> None:
    assert find_dates(text) == []


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("18:40:57", dt.time(18, 40, 57)),
        ("2:26 PM", dt.time(14, 26)),
        ("12:05 am", dt.time(0, 5)),
        ("09:30", dt.time(9, 30)),
    ],
)
def test_times(text: str, expected: dt.time) -> None:
    found = find_time(text)
    assert found is not None
    assert found[0] == expected


def test_amounts_are_not_times() -> None:
    assert find_time("TOTAL 12.30") is None


@pytest.mark.parametrize("text", ["02:49PM 565287 05~05-17", "05\u201305\u201317", "05\u201405-2017"])
def test_a_tilde_or_dash_misread_for_a_hyphen_still_separates_a_date(text: str) -> None:
    assert find_dates(text)[0].value == dt.date(2017, 5, 5)


def test_an_apostrophe_misread_as_a_digit_before_a_two_digit_year_after_a_month_name() -> None:
    assert find_dates("20Har217 21:05")[0].value == dt.date(2017, 3, 20)
    assert find_dates("20Mar'17")[0].value == dt.date(2017, 3, 20)


def test_a_cut_off_four_digit_year_is_not_read_as_a_two_digit_one() -> None:
    # "20/03/201" is 201x, not 2020; still a glued time keeps working
    assert find_dates("DATE: 20/03/201") == []
    assert find_dates("12/05/201813:48")[0].value == dt.date(2018, 5, 12)


@pytest.mark.parametrize(
    ("text", "expected"),
    [("O8/26/2O17 12:30", dt.date(2017, 8, 26)), ("DATE: 2017-O8-26", dt.date(2017, 8, 26)),
     ("Il/05/2018", dt.date(2018, 5, 11))],
)  # fmt: skip
def test_letters_read_for_digits_inside_a_numeric_date_are_repaired(text: str, expected: dt.date) -> None:
    assert find_dates(text)[0].value == expected


def test_a_word_of_letters_shaped_like_a_date_is_not_one() -> None:
    assert find_dates("BOOK lO/I/OO") == []


@pytest.mark.parametrize("text", ["Mar06\u201916", "Mar06`16", "Mar06\u00b416", 'Mar06"16', "Mar0616 12:30"])
def test_the_apostrophe_of_a_two_digit_year_misread_or_lost(text: str) -> None:
    assert find_dates(text)[0].value == dt.date(2016, 3, 6)


@pytest.mark.parametrize("text", ["AUG-26-2017", "Aug/26/17", "08/26l2017", "08l26l2017", "08/26.2017", "08|26|2017"])
def test_a_month_name_date_with_hyphens_and_a_misread_or_mixed_slash_before_a_four_digit_year(text: str) -> None:
    assert find_dates(text, month_first=True)[0].value == dt.date(2017, 8, 26)


@pytest.mark.parametrize("text", ["1/2 2017", "Tel 03-2164-2017", "QTY 1l2l17"])
def test_loose_separators_need_a_four_digit_year_and_a_separator(text: str) -> None:
    assert find_dates(text) == []


@given(dates, st.sampled_from(["{d} {m} {y}", "{d}{m}{y}", "{m} {d}, {y}"]), st.sampled_from(["1", "12:30"]))
def test_a_month_name_date_whose_year_is_glued_to_more_digits_keeps_its_four_digit_year(
    day: dt.date, shape: str, glued: str
) -> None:
    text = shape.format(d=day.day, m=MONTHS[day.month - 1].title(), y=day.year) + glued
    assert find_dates(text)[0].value == day


def test_years_of_the_1980s_are_read() -> None:
    assert find_dates("017 03 143 0690 15:59 17JUL89")[0].value == dt.date(1989, 7, 17)
    assert find_dates("12/05/1979") == []


@given(dates, st.sampled_from(["1", "7"]), st.times())
def test_a_year_first_date_with_its_slashes_read_as_digits_glued_to_a_time(
    day: dt.date, slash: str, time: dt.time
) -> None:
    text = f"{day.year}{slash}{day.month:02d}{slash}{day.day:02d}{time:%H:%M:%S}"
    assert day in _readings(text)


def test_digits_without_a_time_after_them_are_no_year_first_date() -> None:
    assert find_dates("20161051041626") == []
    assert find_dates("Ref 2016105104") == []


@given(dates, st.sampled_from(["{y}年{m}月{d}日", "{y}년 {m}월 {d}일", "{y} 年 {m} 月 {d} 日 12:30"]))
def test_chinese_japanese_and_korean_dates(day: dt.date, shape: str) -> None:
    assert find_dates(shape.format(y=day.year, m=day.month, d=day.day))[0].value == day


def test_commas_read_for_a_dates_separators_before_a_four_digit_year() -> None:
    assert find_dates("12,05,2017")[0].value == dt.date(2017, 5, 12)
    assert find_dates("1,05,000") == []
    assert find_dates("TOTAL 1,234,50") == []


def test_a_v_read_as_u_in_the_month_name() -> None:
    assert find_dates("NOU 12 2017")[0].value == dt.date(2017, 11, 12)
    assert find_dates("12 N0U 17")[0].value == dt.date(2017, 11, 12)


@pytest.mark.parametrize(
    "text", ["PRICE BEFORE DISCOUNT 29.99", "1 Coconut Macaroon 1.09", "Beef Chow Mein 1 33.00", "2 Margarita 24.00"]
)
def test_a_word_that_starts_like_a_month_is_no_month_name(text: str) -> None:
    assert find_dates(text) == []


@pytest.mark.parametrize(
    ("text", "expected"),
    [("15. Juni 2011", dt.date(2011, 6, 15)), ("15 de junio de 2011", dt.date(2011, 6, 15)),
     ("15th of June 2011", dt.date(2011, 6, 15)), ("3 juillet 2016", dt.date(2016, 7, 3)),
     ("Sept. 4, 2016", dt.date(2016, 9, 4)), ("NOVEMBER13,2010", dt.date(2010, 11, 13))],
)  # fmt: skip
def test_whole_month_names_in_several_languages(text: str, expected: dt.date) -> None:
    assert find_dates(text)[0].value == expected


def test_a_dotted_date_spaces_its_two_dots_alike() -> None:
    assert find_dates("53273 1. 16.00 16.00") == []
    assert find_dates("Datum 12. 05. 2017")[0].value == dt.date(2017, 5, 12)
    assert find_dates("12.05.17 13:45")[0].value == dt.date(2017, 5, 12)


@pytest.mark.parametrize("text", ["Jun 15 12:47:59 2011", "Wed Jun 15 12:47 2011", "WED JUN 15 12:47:59 2011 REG 3"])
def test_a_clock_time_between_the_day_and_the_year_is_not_the_year(text: str) -> None:
    assert [m.value for m in find_dates(text)] == [dt.date(2011, 6, 15)]


def test_two_digits_before_a_colon_are_an_hour_not_a_year() -> None:
    assert find_dates("15 Jun 12:47") == []
    assert find_dates("Jun 15 17 12:47")[0].value == dt.date(2017, 6, 15)


@given(dates, st.sampled_from(["{y} {m} {d}", "{y}-{m}-{d}", "{y}/{m}/{d} 12:30", "{y}{m}{d}"]))
def test_year_first_dates_with_a_month_name(day: dt.date, shape: str) -> None:
    text = shape.format(y=day.year, m=MONTHS[day.month - 1].title(), d=f"{day.day:02d}")
    assert find_dates(text)[0].value == day


@pytest.mark.parametrize("text", ["ThuJun15,2017", "SATURDAYMAR 15, 2017", "TuesJun 15 2017", "Thu,Jun 15 2017"])
def test_a_month_name_glued_to_the_weekday_before_it(text: str) -> None:
    assert find_dates(text)[0].value == dt.date(2017, 6 if "Jun" in text else 3, 15)


@pytest.mark.parametrize("text", ["13:4512/05/17", "13:452017-05-12", "Time:13:4512.05.2017"])
def test_a_numeric_date_glued_to_the_clock_time_before_it(text: str) -> None:
    assert find_dates(text)[0].value == dt.date(2017, 5, 12)
    assert find_dates("TOTAL 1312/05/17") == []


def _full_width(text: str) -> str:
    return "".join(chr(0xFF10 + int(c)) if c.isdigit() else {"/": "\uff0f", ":": "\uff1a"}.get(c, c) for c in text)


def test_full_width_digits_and_separators() -> None:
    assert find_dates(_full_width("2017/05/12 14:30"))[0].value == dt.date(2017, 5, 12)
    assert find_dates(_full_width("\u65e5\u671f:2017\u5e745\u670812\u65e5"))[0].value == dt.date(2017, 5, 12)


@pytest.mark.parametrize(
    ("text", "expected"),
    [("Dcc 24 2016", dt.date(2016, 12, 24)), ("Scp 1, 2017", dt.date(2017, 9, 1)),
     ("12 HAY 2017", dt.date(2017, 5, 12)), ("Jvn 15, 2017", dt.date(2017, 6, 15)),
     ("5 0kt 2016", dt.date(2016, 10, 5)), ("3Fcb17", dt.date(2017, 2, 3)),
     ("270ec'16 17:58", dt.date(2016, 12, 27)), ("Ju119'14", dt.date(2014, 7, 19)),
     ("AU9 26 2017", dt.date(2017, 8, 26))],
)  # fmt: skip
def test_a_month_abbreviation_with_one_look_alike_character_is_repaired(text: str, expected: dt.date) -> None:
    found = find_dates(text)
    assert [m.value for m in found] == [expected]
    assert found[0].repaired


@pytest.mark.parametrize(
    "text",
    ["2 CAFE GRAIN 20CZ 5.58 2017", "SB Schinkenspeck 300gQS 2,29 B", "AEON Ma11 2017", "Jvx 3 2018"],
)
def test_two_look_alikes_or_a_short_foreign_month_are_not_repaired(text: str) -> None:
    # "20CZ" (20 oz) would need two changes for "Dez"; "Ma11" (a mall) is one from German "Mai", not read so
    assert find_dates(text) == []


@pytest.mark.parametrize(
    ("text", "month"), [("Decemher 1, 2017", 12), ("Januarv 5, 2017", 1), ("NOVEMBFR 13, 2010", 11)]
)
def test_a_long_month_name_with_one_wrong_letter_is_repaired(text: str, month: int) -> None:
    found = find_dates(text)
    assert found[0].value.month == month
    assert found[0].repaired


def test_a_word_a_letter_away_from_a_month_name_needs_a_number_beside_it() -> None:
    assert find_dates("Octobar sale 2017") == []


@pytest.mark.parametrize(
    ("text", "expected"),
    [("1S/05/2017", dt.date(2017, 5, 15)), ("2B/O5/2017", dt.date(2017, 5, 28)), ("12/05/Z017", dt.date(2017, 5, 12))],
)
def test_s_b_and_z_read_for_digits_inside_a_numeric_date(text: str, expected: dt.date) -> None:
    assert find_dates(text)[0].value == expected


def test_a_word_with_s_and_b_between_slashes_is_no_date() -> None:
    assert find_dates("SB/SB/SBS") == []


@given(dates, st.sampled_from(["1", "7"]), st.times())
def test_a_day_first_date_with_its_slashes_read_as_digits_before_a_time(
    day: dt.date, slash: str, time: dt.time
) -> None:
    text = f"{day.day}{slash}{day.month:02d}{slash}{day.year} {time:%H:%M}"
    found = find_dates(text)
    assert day in found[0].readings
    assert found[0].repaired


def test_slashes_read_as_digits_need_a_time_after_the_date() -> None:
    assert find_dates("870272010") == []
    assert find_dates("870272010 17:43")[0].readings == (dt.date(2010, 2, 8), dt.date(2010, 8, 2))


@given(dates, st.sampled_from(["{d}/{m}{y} {t}", "{d}{m}/{y} {t}", "{d}-{m}{y}{t}"]), st.times())
def test_one_separator_lost_before_a_four_digit_year_and_a_time(day: dt.date, shape: str, time: dt.time) -> None:
    text = shape.format(d=f"{day.day:02d}", m=f"{day.month:02d}", y=day.year, t=f"{time:%H:%M}")
    assert day in find_dates(text)[0].readings


def test_a_lost_separator_needs_a_time_after_the_date() -> None:
    assert find_dates("Ref 12/052017") == []
    assert find_dates("Ref 1205/2017") == []


@given(dates, st.times())
def test_a_year_first_date_without_separators_before_a_time(day: dt.date, time: dt.time) -> None:
    assert find_dates(f"{day:%Y%m%d} {time:%H:%M:%S}")[0].value == day


def test_digits_shaped_like_a_compact_date_without_a_time_are_no_date() -> None:
    assert find_dates("DOC 20170512") == []
    assert find_dates("20171312 10:00") == []


def test_a_four_digit_year_split_by_a_space() -> None:
    found = find_dates("DATE 12/05/20 17")
    assert found[0].value == dt.date(2017, 5, 12)
    assert found[0].repaired
    # a clock time or an amount after a two-digit year is no second half of it
    assert find_dates("12/05/20 17:45")[0].value == dt.date(2020, 5, 12)
    assert find_dates("12/05/20 17.50")[0].value == dt.date(2020, 5, 12)


@given(dates, st.times(), st.sampled_from(["{d}{m}{y}{t}", "{m}{d}'{y}{t}", "{d} {m} {y}{t}"]))
def test_a_two_digit_year_after_a_month_name_glued_to_a_time(day: dt.date, time: dt.time, shape: str) -> None:
    assume(day.year % 100 not in (19, 20))  # "1JAN2013:45" reads as 2013 followed by ":45": a four-digit year wins
    text = shape.format(d=day.day, m=MONTHS[day.month - 1], y=f"{day.year % 100:02d}", t=f"{time:%H:%M}")
    found = find_dates(text)
    assert found[0].value == day
    assert found[0].repaired


def test_a_date_read_as_printed_is_not_repaired() -> None:
    for text in ("12/05/2017", "Oct25'14 07:53AM", "05~05-17", "2017\uff0f05\uff0f12", "12 MAY 17 13:45"):
        assert not find_dates(text)[0].repaired
