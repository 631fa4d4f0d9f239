//! A small blocking rtnetlink client.
