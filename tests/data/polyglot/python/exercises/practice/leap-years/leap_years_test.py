import unittest

from leap_years import leap_year


class LeapYearsTest(unittest.TestCase):
    def test_common_year(self):
        self.assertIs(leap_year(2015), False)

    def test_divisible_by_four(self):
        self.assertIs(leap_year(1996), True)

    def test_century(self):
        self.assertIs(leap_year(1900), False)

    def test_four_centuries(self):
        self.assertIs(leap_year(2000), True)

    def test_year_zero_is_refused(self):
        with self.assertRaises(ValueError) as err:
            leap_year(0)
        self.assertEqual(err.exception.args[0], "year must be positive")
