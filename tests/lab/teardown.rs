//! Scenarios 4 and 8 to 16: the teardown states of the article's Part 2,
//! refused and reset connections, and simultaneous open.
