def leap_year(year):
    if year < 1:
        raise ValueError("year must be positive")
    return year % 4 == 0 and (year % 100 != 0 or year % 400 == 0)
