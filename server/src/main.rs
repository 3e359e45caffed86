use std::{io::Read, path::PathBuf, process::ExitCode};

use clap::{Parser, Subcommand};

#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;
use server::{config::Config, startup, telemetry};

/// Mailbridge: the admin console for OAuth2 mailboxes.
#[derive(Parser)]
#[command(version, about)]
struct Cli {
    #[command(subcommand)]
    command: Option<Command>,
}

#[derive(Subcommand)]
enum Command {
    /// Run the web server (the default).
    Serve,
    /// Apply the database migrations and exit.
    Migrate,
    /// Copy every row of an installation into a new, empty database (e.g. from SQLite to
    /// PostgreSQL), encrypted values as they are; stop every instance first.
    CopyDb {
        /// The database to read, e.g. sqlite://data/mailbridge.db
        #[arg(long)]
        from: String,
        /// The empty database to fill, e.g. postgres://mailbridge@db.internal/mailbridge
        #[arg(long)]
        to: String,
    },
    /// Run the IMAP and SMTP login test of a mail account; exits non-zero on failure.
    Check {
        #[arg(long)]
        account: i64,
    },
    /// Print a fresh access token of a linked OAuth account (refreshed first when it expires
    /// within --min-validity seconds). Exit codes: 0 ok, 3 no such account, 4 not linked
    /// (pending, needs_reauth, disabled, error), 5 a password account, 6 temporary (retry).
    Token {
        #[arg(long)]
        account: i64,
        #[arg(long, default_value_t = 300)]
        min_validity: i64,
        #[arg(long, value_enum, default_value = "raw")]
        format: server::token_cmd::Format,
    },
    /// Lift the sign-in lock-out of an address (its recorded failures from every client).
    Unlock {
        #[arg(long)]
        email: String,
    },
    /// Create a user. The password is read from --password-file, or else from stdin.
    CreateUser {
        #[arg(long)]
        email: String,
        #[arg(long)]
        name: String,
        /// admin or user
        #[arg(long, default_value = "user")]
        role: String,
        #[arg(long)]
        password_file: Option<PathBuf>,
    },
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    let config = match Config::from_env() {
        Ok(c) => c,
        Err(e) => return fail(&e),
    };
    telemetry::init(&config.log_format);
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(r) => r,
        Err(e) => return fail(&format!("cannot start the async runtime: {e}")),
    };
    if let Some(Command::Token {
        account,
        min_validity,
        format,
    }) = cli.command
    {
        return runtime.block_on(server::token_cmd::run(
            config,
            account,
            min_validity,
            format,
        ));
    }
    let result: Result<(), String> = runtime.block_on(async move {
        match cli.command.unwrap_or(Command::Serve) {
            Command::Serve => startup::serve(config).await.map_err(|e| e.to_string()),
            Command::Migrate => migrate(&config).await,
            Command::CopyDb { from, to } => copy_db(&from, &to).await,
            Command::Check { account } => check(config, account).await,
            Command::Token { .. } => unreachable!("handled above"),
            Command::Unlock { email } => unlock(&config, &email).await,
            Command::CreateUser {
                email,
                name,
                role,
                password_file,
            } => create_user(&config, &email, &name, &role, password_file).await,
        }
    });
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => fail(&e),
    }
}

async fn migrate(config: &Config) -> Result<(), String> {
    let url = &config.database_url;
    // Taken like a starting instance does: a migrate beside a starting instance waits for it.
    let _lock = app::ssr::db::start_lock(url)
        .await
        .map_err(|e| format!("MAILBRIDGE_DATABASE_URL: {e}"))?;
    app::ssr::db::open(url)
        .await
        .map_err(|e| format!("MAILBRIDGE_DATABASE_URL: {e}"))?;
    tracing::info!("migrations applied");
    Ok(())
}

async fn copy_db(from: &str, to: &str) -> Result<(), String> {
    let report = app::ssr::db::copy::copy(from, to)
        .await
        .map_err(|e| e.to_string())?;
    for (table, rows) in &report.tables {
        println!("{table}: {rows} rows");
    }
    println!(
        "copied {} to {}; counts checked",
        app::ssr::db::redact(from),
        app::ssr::db::redact(to)
    );
    Ok(())
}

async fn create_user(
    config: &Config,
    email: &str,
    name: &str,
    role: &str,
    password_file: Option<PathBuf>,
) -> Result<(), String> {
    use app::domain::{DisplayName, Email, Password, Role};
    let email = Email::parse(email).map_err(|m| format!("--email {m}"))?;
    let name = DisplayName::parse(name).map_err(|m| format!("--name {m}"))?;
    let role = Role::parse(role).map_err(|m| format!("--role {m}"))?;
    let raw = match password_file {
        Some(path) => std::fs::read_to_string(&path)
            .map_err(|e| format!("--password-file {}: {e}", path.display()))?,
        None => {
            let mut s = String::new();
            std::io::stdin()
                .read_to_string(&mut s)
                .map_err(|e| format!("cannot read the password from stdin: {e}"))?;
            s
        }
    };
    // A file or a pipe ends with a newline that is not part of the password.
    let raw = raw.strip_suffix('\n').unwrap_or(&raw);
    let raw = raw.strip_suffix('\r').unwrap_or(raw);
    let password = Password::parse(raw).map_err(|m| format!("the password {m}"))?;
    let pool = app::ssr::db::open(&config.database_url)
        .await
        .map_err(|e| format!("MAILBRIDGE_DATABASE_URL: {e}"))?;
    let now = app::ssr::clock::Clock::default().now();
    let id = app::ssr::service::users::create(&pool, now, &email, &name, role, &password)
        .await
        .map_err(|e| e.to_string())?;
    println!(
        "created user {id} <{}> with role {}",
        email.as_str(),
        role.as_str()
    );
    Ok(())
}

async fn unlock(config: &Config, email: &str) -> Result<(), String> {
    let email = app::domain::Email::parse(email).map_err(|m| format!("--email {m}"))?;
    let pool = app::ssr::db::open(&config.database_url)
        .await
        .map_err(|e| format!("MAILBRIDGE_DATABASE_URL: {e}"))?;
    let removed = app::ssr::db::sign_in_failures::clear(&pool, &email.key(), None)
        .await
        .map_err(|e| e.to_string())?;
    println!(
        "{}: {removed} recorded failure{} removed; sign-in is open again",
        email.as_str(),
        if removed == 1 { "" } else { "s" }
    );
    Ok(())
}

async fn check(config: Config, account: i64) -> Result<(), String> {
    use app::{domain::Protocol, ssr::mail::run_account_test};
    let state = startup::build_state(&config)
        .await
        .map_err(|e| e.to_string())?;
    let mut failed = false;
    for protocol in Protocol::ALL {
        let r = run_account_test(&state, account, protocol)
            .await
            .map_err(|e| e.to_string())?;
        for s in &r.steps {
            println!(
                "{} {:<28} {:>6} ms  {}",
                if s.ok { "ok  " } else { "FAIL" },
                s.name,
                s.millis,
                s.detail
            );
        }
        println!("{}", r.message);
        if let Some(h) = &r.hint {
            println!("hint: {h}");
        }
        println!();
        failed |= !r.ok;
    }
    if failed {
        Err(format!(
            "mail account {account}: the connection test failed"
        ))
    } else {
        Ok(())
    }
}

/// One clear line on stderr and a non-zero exit: what an operator needs when start-up fails.
fn fail(e: &dyn std::fmt::Display) -> ExitCode {
    eprintln!("error: {e}");
    ExitCode::from(2)
}
