//! The PostgreSQL harness the multi-instance work (issue 14) builds on: a throw-away cluster
//! per test, started and stopped by the test itself.

mod common;

#[test]
fn a_throw_away_cluster_starts_takes_a_database_and_stops() {
    let port;
    {
        let pg = common::postgres::Cluster::start();
        port = pg.port;
        pg.psql("postgres", "CREATE DATABASE mailbridge");
        assert_eq!(
            pg.psql("mailbridge", "SELECT current_database()"),
            "mailbridge"
        );
        let major: u32 = pg
            .psql("postgres", "SHOW server_version_num")
            .parse::<u32>()
            .unwrap()
            / 10_000;
        assert!(major >= 15, "PostgreSQL 15 or newer, found {major}");
        assert!(pg
            .url("mailbridge")
            .ends_with(&format!(":{port}/mailbridge")));
    }
    // Dropped: nothing listens there any more.
    assert!(std::net::TcpStream::connect(("127.0.0.1", port)).is_err());
}
