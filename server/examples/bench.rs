//! `scripts/bench.sh`: measures Mailbridge against its physical limits and prints a table.
//!
//! 1. Server-rendered Mail servers and Mail accounts lists with 1,000 servers and 10,000
//!    accounts, against a static file of the same size from the app's own static handler.
//! 2. Start-up to a healthy `/healthz` on that database.
//! 3. The access-token API for an already-fresh token, against `/healthz` of the same server.
//! 4. Refresh at scale against the peers kit's OAuth server: the refresh task versus direct
//!    refresh calls at the same concurrency.
//!
//! The server runs in this process on its own runtime (the test kit's server, `testkit`); the
//! load generator on another.

use std::sync::Arc;
use std::time::{Duration, Instant};

use app::domain::Role;
use app::ssr::crypto::aad;
// The tests' handle on the kit's OAuth server: start, client registration, grants.
use testkit::oidc;

const CONCURRENCY: usize = 32;

// The same allocator as the server binary: this process is the server under test.
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

fn env_num(name: &str, default: u64) -> u64 {
    std::env::var(name)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

struct Load {
    requests: usize,
    secs: f64,
    p50_ms: f64,
    p99_ms: f64,
    errors: usize,
}

/// Requests answered per second.
fn rps(l: &Load) -> f64 {
    l.requests as f64 / l.secs
}

/// `CONCURRENCY` clients sending GET (or, with `post`, a POST of that form body) to `url` with
/// `header` for `duration`.
async fn load(
    url: String,
    header: (&'static str, String),
    post: Option<&'static str>,
    duration: Duration,
) -> Load {
    let client = reqwest::Client::builder()
        .pool_max_idle_per_host(CONCURRENCY)
        .build()
        .unwrap();
    let deadline = Instant::now() + duration;
    let started = Instant::now();
    let mut tasks = tokio::task::JoinSet::new();
    for _ in 0..CONCURRENCY {
        let client = client.clone();
        let url = url.clone();
        let header = header.clone();
        tasks.spawn(async move {
            let mut lat = vec![];
            let mut errors = 0;
            while Instant::now() < deadline {
                let t = Instant::now();
                let req = match post {
                    Some(body) => client
                        .post(&url)
                        .header("content-type", "application/x-www-form-urlencoded")
                        .body(body),
                    None => client.get(&url),
                };
                match req.header(header.0, &header.1).send().await {
                    Ok(r) if r.status().is_success() => {
                        let _ = r.bytes().await;
                        lat.push(t.elapsed().as_secs_f64() * 1000.0);
                    }
                    _ => errors += 1,
                }
            }
            (lat, errors)
        });
    }
    let mut all = vec![];
    let mut errors = 0;
    while let Some(r) = tasks.join_next().await {
        let (l, e) = r.unwrap();
        all.extend(l);
        errors += e;
    }
    let secs = started.elapsed().as_secs_f64();
    all.sort_by(|a, b| a.partial_cmp(b).unwrap());
    let pct = |p: f64| {
        all.get(((all.len() as f64 * p) as usize).min(all.len().saturating_sub(1)))
            .copied()
            .unwrap_or(0.0)
    };
    Load {
        requests: all.len(),
        secs,
        p50_ms: pct(0.50),
        p99_ms: pct(0.99),
        errors,
    }
}

/// Seeds the kit's server: an admin (whose session cookie is returned), 100 users, one
/// application, `servers` Google servers and `accounts` accounts in every status.
async fn seed(kit: &testkit::TestApp, servers: usize, accounts: usize) -> String {
    let state = &kit.state;
    let pool = &state.pool;
    let (admin, cookie) = kit.person("bench-admin@example.test", Role::Admin).await;
    let hash: String = sqlx::query_scalar("SELECT password_hash FROM users WHERE id = $1")
        .bind(admin)
        .fetch_one(pool)
        .await
        .unwrap();
    let mut tx = pool.begin().await.unwrap();
    let t = state.clock.now();
    for u in 0..100 {
        sqlx::query("INSERT INTO users (email, email_key, display_name, role, active, password_hash, created_at, updated_at) VALUES ($1, $1, $2, 'user', TRUE, $3, $4, $4)")
            .bind(format!("user{u}@example.test"))
            .bind(format!("User {u}"))
            .bind(&hash)
            .bind(t)
            .execute(&mut *tx)
            .await
            .unwrap();
    }
    sqlx::query("INSERT INTO applications (name, name_key, app_key, active, allowed_ips, created_at, updated_at) VALUES ('Bench', 'bench', 'benchkey', TRUE, '', $1, $1)")
        .bind(t)
        .execute(&mut *tx)
        .await
        .unwrap();
    for s in 0..servers {
        // Ids start at 1 in this fresh database; each secret is sealed for its own row.
        let secret = state
            .secrets
            .seal_str("bench-secret", &aad::CLIENT_SECRET.row(s + 1));
        sqlx::query(
            "INSERT INTO mail_servers (subject, subject_key, auth_method, provider, client_id, client_secret_enc, application_id,
                imap_host, imap_port, imap_encryption, smtp_host, smtp_port, smtp_encryption, created_at, updated_at)
             VALUES ($1, $2, 'oauth2', 'google', 'client', $3, 1, 'imap.gmail.com', 993, 'ssl', 'smtp.gmail.com', 465, 'ssl', $4, $4)",
        )
        .bind(format!("Server {s:04}"))
        .bind(format!("server {s:04}"))
        .bind(&secret)
        .bind(t)
        .execute(&mut *tx)
        .await
        .unwrap();
    }
    let statuses = ["linked", "pending", "needs_reauth", "error", "linked"];
    for a in 0..accounts {
        sqlx::query(
            "INSERT INTO mail_accounts (mail_server_id, owner_id, name, login, login_key, status, access_expires_at, created_at, updated_at)
             VALUES ($1, $2, $3, $4, $4, $5, $6, $6, $6)",
        )
        .bind((a % servers) as i64 + 1)
        .bind((a % 100) as i64 + 2)
        .bind(format!("Mailbox {a:05}"))
        .bind(format!("box{a}@example.test"))
        .bind(statuses[a % statuses.len()])
        .bind(t + 3600)
        .execute(&mut *tx)
        .await
        .unwrap();
    }
    tx.commit().await.unwrap();
    cookie
}

fn main() {
    let backends = std::env::var("BENCH_BACKENDS").unwrap_or_else(|_| "sqlite,postgres".into());
    for backend in backends.split(',').map(str::trim).filter(|b| !b.is_empty()) {
        let dir = tempfile::tempdir().unwrap();
        std::fs::create_dir_all(dir.path().join("site")).unwrap();
        // A throw-away cluster (as the tests use) for the PostgreSQL run, kept until its end.
        let (label, db, _cluster) = match backend {
            "sqlite" => (
                "SQLite",
                format!("sqlite://{}", dir.path().join("bench.db").display()),
                None,
            ),
            "postgres" => {
                let cluster = testkit::postgres::Cluster::start();
                let rt = tokio::runtime::Builder::new_current_thread()
                    .enable_all()
                    .build()
                    .unwrap();
                let db = rt.block_on(testkit::postgres::fresh_database(&cluster.url("postgres")));
                ("PostgreSQL 15 (local, fsync off)", db, Some(cluster))
            }
            other => panic!("BENCH_BACKENDS: unknown backend {other}"),
        };
        println!("#### {label}");
        println!();
        bench_on(dir, &db);
        println!();
    }
}

/// The page, start-up and refresh benchmarks on the database at `db`.
fn bench_on(dir: tempfile::TempDir, db: &str) {
    let secs = env_num("BENCH_SECS", 10);
    let servers = env_num("BENCH_SERVERS", 1000) as usize;
    let accounts = env_num("BENCH_ACCOUNTS", 10_000) as usize;
    let refresh_n = env_num("BENCH_REFRESH_ACCOUNTS", 10_000) as usize;
    let site = dir.path().join("site").display().to_string();
    // Server processes find the key the kit's in-process server uses.
    let key_file = if db.starts_with("sqlite:") {
        dir.path().join("secret.key")
    } else {
        testkit::postgres::key_file_for(db)
    };

    // The server: the kit's (the real router on a free port), on its own runtime with two
    // workers (this machine has two cores). Its tasks run there: it is started from within it.
    let server_rt = Arc::new(
        tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .thread_name("server")
            .enable_all()
            .build()
            .unwrap(),
    );
    let kit = server_rt.block_on(testkit::spawn_on(
        dir,
        db,
        &[
            ("LEPTOS_SITE_ROOT", site.as_str()),
            ("MAILBRIDGE_REFRESH_INTERVAL_SECS", "3600"),
            // The access-token benchmark is one key as fast as it can go.
            ("MAILBRIDGE_API_RATE_PER_MINUTE", "1000000000"),
        ],
    ));
    let cookie = server_rt.block_on(seed(&kit, servers, accounts));
    if db.starts_with("sqlite:") {
        // The seed is one transaction of a few MB, which SQLite's automatic checkpoint (at 1,000
        // pages) leaves in the WAL; a server that has been running keeps most of its
        // database in the main file. Measure that state, not the first minutes after a bulk load.
        server_rt.block_on(async {
            sqlx::query("PRAGMA wal_checkpoint(TRUNCATE)")
                .execute(&kit.state.pool)
                .await
                .unwrap()
        });
    }
    let state = kit.state.clone();
    let dir = kit.dir.path();
    let base = kit.url.clone();
    let gen = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .thread_name("load-generator")
        .enable_all()
        .build()
        .unwrap();

    println!("Mailbridge benchmark — {} servers, {} accounts, concurrency {CONCURRENCY}, {secs} s per run", servers, accounts);
    println!();
    println!("| page | bytes | req/s | p50 ms | p99 ms | errors |");
    println!("|---|---:|---:|---:|---:|---:|");
    for (page, data_fn, data_args) in [
        (
            "/mail-servers",
            "list_mail_servers",
            "page=0&descending=false",
        ),
        (
            "/mail-accounts",
            "list_mail_accounts",
            "server_id=&owner_id=&status=&page=0",
        ),
    ] {
        let body = gen.block_on(async {
            reqwest::Client::new()
                .get(format!("{base}{page}"))
                .header("cookie", &cookie)
                .send()
                .await
                .unwrap()
                .bytes()
                .await
                .unwrap()
        });
        // A static file of exactly the same size, served by the app's own static handler.
        let static_name = format!("static{}.html", page.replace('/', "-"));
        std::fs::write(dir.join("site").join(&static_name), vec![b'x'; body.len()]).unwrap();
        let ssr = gen.block_on(load(
            format!("{base}{page}"),
            ("cookie", cookie.clone()),
            None,
            Duration::from_secs(secs),
        ));
        let st = gen.block_on(load(
            format!("{base}/{static_name}"),
            ("cookie", cookie.clone()),
            None,
            Duration::from_secs(secs),
        ));
        println!(
            "| SSR {page} | {} | {:.0} | {:.1} | {:.1} | {} |",
            body.len(),
            rps(&ssr),
            ssr.p50_ms,
            ssr.p99_ms,
            ssr.errors
        );
        println!(
            "| static, same size | {} | {:.0} | {:.1} | {:.1} | {} |",
            body.len(),
            rps(&st),
            st.p50_ms,
            st.p99_ms,
            st.errors
        );
        println!(
            "| **ratio SSR ÷ static** | | **{:.2}** | | | |",
            rps(&ssr) / rps(&st)
        );
        // Where the page's time goes: its rows alone, through the server function the page
        // calls (session check, query, JSON), without any rendering.
        let data = gen.block_on(load(
            format!("{base}/api/{data_fn}"),
            ("cookie", cookie.clone()),
            Some(data_args),
            Duration::from_secs(secs),
        ));
        println!(
            "| its rows alone: POST /api/{data_fn} (JSON) | | {:.0} | {:.1} | {:.1} | {} |",
            rps(&data),
            data.p50_ms,
            data.p99_ms,
            data.errors
        );
    }
    // A server-rendered page with no session and no data: the cost of the frame alone.
    let login = gen.block_on(load(
        format!("{base}/login"),
        ("accept", "text/html".into()),
        None,
        Duration::from_secs(secs),
    ));
    println!(
        "| SSR /login (signed out: no session, no query) | | {:.0} | {:.1} | {:.1} | {} |",
        rps(&login),
        login.p50_ms,
        login.p99_ms,
        login.errors
    );
    println!();
    println!(
        "(both lists show their first page of {} rows)",
        app::domain::PAGE_SIZE
    );

    // The access-token API for a token that is already fresh (no provider call): an API key
    // with all servers, and account 1 (linked, on a Google server) given a sealed token good for
    // an hour; against /healthz of the same server.
    let api_key = server_rt.block_on(async {
        let now = state.clock.now();
        sqlx::query(
            "UPDATE mail_accounts SET status = 'linked', access_token_enc = $1, refresh_token_enc = $2,
                access_expires_at = $3 WHERE id = 1",
        )
        .bind(state.secrets.seal_str("bench-access-token", &aad::ACCESS_TOKEN.row(1)))
        .bind(state.secrets.seal_str("bench-refresh-token", &aad::REFRESH_TOKEN.row(1)))
        .bind(now + 3600)
        .execute(&state.pool)
        .await
        .unwrap();
        let draft = app::domain::ApiKeyDraft {
            name: "Bench".into(),
            all_servers: true,
            perm_tokens: true,
            ..Default::default()
        };
        app::ssr::service::api_keys::create(&state, 1, &draft)
            .await
            .unwrap()
            .key
    });
    let bearer = ("authorization", format!("Bearer {api_key}"));
    let token = gen.block_on(load(
        format!("{base}/api/v1/accounts/1/access-token"),
        bearer.clone(),
        Some(""),
        Duration::from_secs(secs),
    ));
    let health = gen.block_on(load(
        format!("{base}/healthz"),
        bearer,
        None,
        Duration::from_secs(secs),
    ));
    println!();
    println!("| endpoint | req/s | p50 ms | p99 ms | errors |");
    println!("|---|---:|---:|---:|---:|");
    println!(
        "| POST /api/v1/accounts/1/access-token (token already fresh) | {:.0} | {:.1} | {:.1} | {} |",
        rps(&token),
        token.p50_ms,
        token.p99_ms,
        token.errors
    );
    println!(
        "| GET /healthz | {:.0} | {:.1} | {:.1} | {} |",
        rps(&health),
        health.p50_ms,
        health.p99_ms,
        health.errors
    );
    println!(
        "| **ratio access-token ÷ healthz** | **{:.2}** | | | |",
        rps(&token) / rps(&health)
    );

    // Start-up on the seeded database: the release binary, from spawning the process to the
    // first healthy answer (migrations checked, key loaded, listening).
    println!();
    match server_binary() {
        Some(bin) => {
            let port = std::net::TcpListener::bind("127.0.0.1:0")
                .unwrap()
                .local_addr()
                .unwrap()
                .port();
            let started = Instant::now();
            let mut child = std::process::Command::new(&bin)
                .arg("serve")
                .env("LEPTOS_SITE_ADDR", format!("127.0.0.1:{port}"))
                .env("LEPTOS_SITE_ROOT", dir.join("site"))
                .env("MAILBRIDGE_DATABASE_URL", db)
                .env("MAILBRIDGE_SECRET_KEY_FILE", &key_file)
                .env("MAILBRIDGE_REFRESH_INTERVAL_SECS", "3600")
                .env("RUST_LOG", "warn")
                .stdout(std::process::Stdio::null())
                .stderr(std::process::Stdio::null())
                .spawn()
                .expect("server binary");
            let healthy = gen.block_on(async {
                let client = reqwest::Client::new();
                // A binary that exits (e.g. one older than this database's migrations) or never
                // gets healthy is reported, not waited for.
                while started.elapsed() < Duration::from_secs(60) {
                    if let Ok(r) = client.get(format!("http://127.0.0.1:{port}/healthz")).send().await {
                        if r.status().is_success() {
                            return Some(started.elapsed());
                        }
                    }
                    if matches!(child.try_wait(), Ok(Some(_))) {
                        return None;
                    }
                    tokio::time::sleep(Duration::from_millis(1)).await;
                }
                None
            });
            let _ = child.kill();
            let _ = child.wait();
            match healthy {
                Some(t) => println!(
                    "| start-up of the release binary to /healthz ok ({accounts} accounts) | {:.0} ms |",
                    t.as_secs_f64() * 1000.0
                ),
                None => println!("| start-up of the release binary | failed: it exited or was not healthy within 60 s (is {} current?) |", bin.display()),
            }
        }
        None => println!("| start-up | skipped: no release server binary (run scripts/bench.sh or set BENCH_SERVER_BIN) |"),
    }
    println!("|---|---:|");

    if refresh_n > 0 {
        refresh_bench(&server_rt, &state, dir, db, &key_file, refresh_n);
    }
}

/// The release `mailbridge` binary (`BENCH_SERVER_BIN`, else `$CARGO_TARGET_DIR/release/mailbridge`).
fn server_binary() -> Option<std::path::PathBuf> {
    let target = std::env::var("CARGO_TARGET_DIR").unwrap_or_else(|_| "target".into());
    let bin = std::env::var("BENCH_SERVER_BIN")
        .map(std::path::PathBuf::from)
        .unwrap_or_else(|_| std::path::Path::new(&target).join("release/mailbridge"));
    bin.exists().then_some(bin)
}

/// CPU time (user + system) process `pid` has used so far, in seconds.
fn cpu_secs(pid: u32) -> f64 {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).unwrap_or_default();
    // Fields after the command name, which is in parentheses and may hold spaces.
    let rest = stat.rsplit(") ").next().unwrap_or_default();
    let f: Vec<&str> = rest.split_whitespace().collect();
    let ticks = |i: usize| f.get(i).and_then(|v| v.parse::<f64>().ok()).unwrap_or(0.0);
    // utime and stime are fields 14 and 15 of the whole line: 11 and 12 after the name.
    (ticks(11) + ticks(12)) / 100.0
}

/// A memory field of `/proc/{pid}/status` (e.g. `VmHWM:`, the peak resident set), in MB.
fn proc_mb(pid: u32, field: &str) -> f64 {
    std::fs::read_to_string(format!("/proc/{pid}/status"))
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with(field))
                .and_then(|l| l.split_whitespace().nth(1))
                .and_then(|v| v.parse::<f64>().ok())
        })
        .unwrap_or(0.0)
        / 1024.0
}

/// Links `n` accounts through the real provider's code flow, expires them, starts the release
/// server binary as its own process on that database and times its refresh task bringing them
/// all back to `linked`; then times direct refresh calls at the same concurrency.
fn refresh_bench(
    rt: &tokio::runtime::Runtime,
    state: &app::ssr::AppState,
    dir: &std::path::Path,
    db: &str,
    key_file: &std::path::Path,
    n: usize,
) {
    let Some(bin) = server_binary() else {
        println!("\n(refresh benchmark skipped: no release server binary; run scripts/bench.sh or set BENCH_SERVER_BIN)");
        return;
    };
    let result = rt.block_on(async {
        let oidc = oidc::Oidc::start(&[]).await;
        let provider_pid = oidc.pid();
        let issuer = oidc.issuer.clone();
        let http = reqwest::Client::builder().redirect(reqwest::redirect::Policy::none()).build().unwrap();
        let redirect = "http://127.0.0.1:1/oauth/callback/bench";
        let (cid, secret) = oidc
            .register_with(serde_json::json!({"redirect_uris": [redirect], "token_endpoint_auth_method": "client_secret_basic"}))
            .await;
        // A generic server at this provider, for the refresh task.
        let t = state.clock.now();
        let sid = {
            let mut conn = state.pool.acquire().await.unwrap();
            oidc.insert_generic_server(&mut conn, &state.secrets, "Refresh bench", &cid, &secret).await
        };
        // Grants through the provider's own flow (authorization code with auto-approval).
        let link_started = Instant::now();
        let grants = oidc.grants(&cid, &secret, redirect, n).await;
        let link_secs = link_started.elapsed().as_secs_f64();
        // Store them as linked but expired.
        sqlx::query("UPDATE mail_accounts SET status = 'pending', access_expires_at = NULL").execute(&state.pool).await.unwrap();
        let mut tx = state.pool.begin().await.unwrap();
        for g in &grants {
            let id: i64 = sqlx::query_scalar(
                "INSERT INTO mail_accounts (mail_server_id, owner_id, name, login, login_key, status,
                    access_expires_at, created_at, updated_at) VALUES ($1, 1, $2, $2, $2, 'linked', $3, $3, $3) RETURNING id",
            )
            .bind(sid)
            .bind(&g.login)
            .bind(t - 1)
            .fetch_one(&mut *tx)
            .await
            .unwrap();
            // Sealed with the row's id, as the server does.
            sqlx::query("UPDATE mail_accounts SET access_token_enc = $1, refresh_token_enc = $2 WHERE id = $3")
                .bind(state.secrets.seal_str(&g.access, &aad::ACCESS_TOKEN.row(id)))
                .bind(state.secrets.seal_str(&g.refresh, &aad::REFRESH_TOKEN.row(id)))
                .bind(id)
                .execute(&mut *tx)
                .await
                .unwrap();
        }
        tx.commit().await.unwrap();

        let mut rows = vec![];
        for pinned in [false, true] {
            // Two runs on the same grants (this provider does not rotate refresh tokens): the
            // cores shared by everyone, then the provider alone on core 0 and Mailbridge (or the
            // minimal client) on core 1, so that neither side slows the other down.
            let cpus = std::thread::available_parallelism().map(|n| n.get()).unwrap_or(1);
            let pinned = pinned && cpus >= 2;
            let all = format!("0-{}", cpus - 1);
            let pin = |pid: u32, cores: &str| {
                let _ = std::process::Command::new("taskset")
                    .args(["-a", "-p", "-c", cores, &pid.to_string()])
                    .stdout(std::process::Stdio::null())
                    .status();
            };
            pin(provider_pid, if pinned { "0" } else { &all });
            pin(std::process::id(), if pinned { "1" } else { &all });
            sqlx::query("UPDATE mail_accounts SET access_expires_at = $1, status = 'linked' WHERE mail_server_id = $2")
                .bind(t - 1)
                .bind(sid)
                .execute(&state.pool)
                .await
                .unwrap();
            let since = state.clock.now();

            // The server as its own process; its refresh task's first pass starts at once.
            let port = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
            let provider_cpu_before = cpu_secs(provider_pid);
            let started = Instant::now();
            let mut cmd = std::process::Command::new("taskset");
            cmd.args(["-c", if pinned { "1" } else { &all }]).arg(&bin);
            let mut server = cmd
                .arg("serve")
                .env("LEPTOS_SITE_ADDR", format!("127.0.0.1:{port}"))
                .env("LEPTOS_SITE_ROOT", dir.join("site"))
                .env("MAILBRIDGE_DATABASE_URL", db)
                .env("MAILBRIDGE_SECRET_KEY_FILE", key_file)
                .env("MAILBRIDGE_REFRESH_INTERVAL_SECS", "3600")
                .env("MAILBRIDGE_REFRESH_BEFORE_SECS", "60")
                .env("MAILBRIDGE_REFRESH_CONCURRENCY", "8")
                // The kit's provider listens on loopback.
                .env("MAILBRIDGE_ALLOW_PRIVATE_NETWORKS", "127.0.0.0/8")
                .env("RUST_LOG", "warn")
                .stdout(std::process::Stdio::null())
                .stderr(std::process::Stdio::null())
                .spawn()
                .expect("server binary");
            let pid = server.id();
            let mut linked = 0;
            while started.elapsed() < Duration::from_secs(600) {
                linked = sqlx::query_scalar::<_, i64>("SELECT COUNT(*) FROM mail_accounts WHERE mail_server_id = $1 AND status = 'linked' AND access_expires_at > $2")
                    .bind(sid)
                    .bind(since)
                    .fetch_one(&state.pool)
                    .await
                    .unwrap();
                if linked as usize >= n {
                    break;
                }
                tokio::time::sleep(Duration::from_millis(10)).await;
            }
            let task_secs = started.elapsed().as_secs_f64();
            let rss_peak = proc_mb(pid, "VmHWM:");
            let server_cpu = cpu_secs(pid);
            let provider_task_cpu = cpu_secs(provider_pid) - provider_cpu_before;
            // A graceful stop (SIGTERM), as a deployment would do.
            let _ = std::process::Command::new("kill").args(["-TERM", &pid.to_string()]).status();
            let _ = server.wait();

            // The same number of refresh calls from a minimal client, same concurrency.
            let sem = Arc::new(tokio::sync::Semaphore::new(8));
            let provider_cpu_before = cpu_secs(provider_pid);
            let started = Instant::now();
            let mut tasks = tokio::task::JoinSet::new();
            for g in grants.iter() {
                let (http, issuer, cid, secret, sem, refresh) = (http.clone(), issuer.clone(), cid.clone(), secret.clone(), sem.clone(), g.refresh.clone());
                tasks.spawn(async move {
                    let _p = sem.acquire_owned().await.unwrap();
                    http.post(format!("{issuer}/token"))
                        .basic_auth(&cid, Some(&secret))
                        .form(&[("grant_type", "refresh_token"), ("refresh_token", refresh.as_str())])
                        .send()
                        .await
                        .map(|r| r.status().is_success())
                        .unwrap_or(false)
                });
            }
            let mut ok = 0;
            while let Some(r) = tasks.join_next().await {
                ok += r.unwrap() as usize;
            }
            let direct_secs = started.elapsed().as_secs_f64();
            let provider_direct_cpu = cpu_secs(provider_pid) - provider_cpu_before;
            pin(provider_pid, &all);
            pin(std::process::id(), &all);
            rows.push(RefreshRun { pinned, linked, task_secs, ok, direct_secs, rss_peak, server_cpu, provider_task_cpu, provider_direct_cpu });
        }
        (link_secs, rows)
    });
    let (link_secs, rows) = result;
    println!();
    println!("| refresh at scale ({n} accounts, concurrency 8; grants through the provider's code flow in {link_secs:.1} s) | cores shared | provider on core 0, the rest on core 1 |");
    println!("|---|---:|---:|");
    let cell =
        |f: &dyn Fn(&RefreshRun) -> String| rows.iter().map(f).collect::<Vec<_>>().join(" | ");
    println!(
        "| refresh task (release server process, timed from its start): back to linked | {} |",
        cell(&|r| format!("{} of {n} in {:.2} s", r.linked, r.task_secs))
    );
    println!(
        "| direct refresh calls (minimal client): ok | {} |",
        cell(&|r| format!("{} in {:.2} s", r.ok, r.direct_secs))
    );
    println!(
        "| **ratio task ÷ direct** | {} |",
        cell(&|r| format!("**{:.2}**", r.task_secs / r.direct_secs))
    );
    println!(
        "| server process peak RSS (VmHWM) | {} |",
        cell(&|r| format!("{:.0} MB", r.rss_peak))
    );
    println!("| CPU used: server during the task / provider during the task / provider during the direct calls | {} |", cell(&|r| format!("{:.2} s / {:.2} s / {:.2} s", r.server_cpu, r.provider_task_cpu, r.provider_direct_cpu)));
    if rows.iter().any(|r| !r.pinned) && rows.len() == 2 && !rows[1].pinned {
        println!("(one core only: the second run was not pinned either)");
    }
}

struct RefreshRun {
    pinned: bool,
    linked: i64,
    task_secs: f64,
    ok: usize,
    direct_secs: f64,
    rss_peak: f64,
    server_cpu: f64,
    provider_task_cpu: f64,
    provider_direct_cpu: f64,
}
