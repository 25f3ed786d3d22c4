//! Where a village's (zone's) or an incident's officials are reached: a DingTalk group robot
//! or an email address, set up by officials. An alert sent to the village goes to its group
//! at once; escalation's last step tells them how many are still to reach and where the
//! door-to-door list is. Messages wait in `contact_messages` and leave with retries.

use super::super::{Action, Ctx, Principal, Result, ServiceError, authz};
use super::webhook::{MAX_ATTEMPTS, backoff};
use crate::domain::alert::AlertText;
use crate::domain::message::Language;
use crate::domain::{AuditDraft, Invalid};
use crate::store::{alerts, audit, channels};
use chrono::{DateTime, Utc};
use hmac::{Hmac, Mac};
use serde::{Deserialize, Serialize};
use serde_json::json;
use sha2::Sha256;
use uuid::Uuid;

#[derive(Debug, Clone, Deserialize, Serialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ContactForm {
    /// `dingtalk` (a group robot's webhook address and its signing secret) or `email`.
    pub kind: String,
    /// What officials call it, e.g. "Yiqiao village committee".
    pub name: String,
    /// The village (zone) it speaks for; or give `incident_id`.
    #[schema(value_type = Option<String>, format = Uuid)]
    pub zone_id: Option<Uuid>,
    /// The incident whose command group it is; or give `zone_id`.
    #[schema(value_type = Option<String>, format = Uuid)]
    pub incident_id: Option<Uuid>,
    /// The robot's webhook address (`https://oapi.dingtalk.com/robot/send?access_token=…`) or
    /// the email address.
    pub address: String,
    /// The robot's signing secret (DingTalk's "加签", `SEC…`); DingTalk only.
    pub secret: Option<String>,
    /// The language its messages are written in: `zh` (default) or `en`.
    pub language: Option<String>,
}

#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct ContactView {
    #[schema(value_type = String, format = Uuid)]
    pub id: Uuid,
    pub kind: String,
    pub name: String,
    #[schema(value_type = Option<String>, format = Uuid)]
    pub zone_id: Option<Uuid>,
    pub zone_name: Option<String>,
    #[schema(value_type = Option<String>, format = Uuid)]
    pub incident_id: Option<Uuid>,
    /// The address with its secret part hidden (a robot's access token, an email's name).
    pub address_hint: String,
    pub language: String,
    pub created_at: DateTime<Utc>,
}

fn hint(kind: &str, address: &str) -> String {
    if kind == "email" {
        match address.split_once('@') {
            Some((local, domain)) => {
                format!("{}…@{domain}", local.chars().next().unwrap_or('?'))
            }
            None => "…".into(),
        }
    } else {
        match url::Url::parse(address) {
            Ok(u) => format!("{}{}…", u.host_str().unwrap_or_default(), u.path()),
            Err(_) => "…".into(),
        }
    }
}

fn view(k: &channels::ContactRow) -> ContactView {
    ContactView {
        id: k.public_id,
        kind: k.kind.clone(),
        name: k.name.clone(),
        zone_id: k.zone_public_id,
        zone_name: k.zone_name.clone(),
        incident_id: k.incident_id,
        address_hint: hint(&k.kind, &k.address),
        language: k.language.clone(),
        created_at: k.created_at,
    }
}

/// A checked contact: the address is one this server may send to.
struct NewContact {
    kind: &'static str,
    name: String,
    address: String,
    secret: Option<String>,
    language: Language,
}

fn parse(ctx: &Ctx, f: &ContactForm) -> Result<NewContact> {
    let name = f.name.trim();
    if name.is_empty() || name.chars().count() > 100 || name.chars().any(char::is_control) {
        return Err(Invalid::new("name", "invalid_name", "name is 1 to 100 characters").into());
    }
    if f.zone_id.is_some() == f.incident_id.is_some() {
        return Err(Invalid::new(
            "zone_id",
            "invalid_scope",
            "give a zone_id (a village) or an incident_id, not both",
        )
        .into());
    }
    let language = Language::parse(f.language.as_deref().unwrap_or("zh"))?;
    let address = f.address.trim().to_owned();
    match f.kind.as_str() {
        "dingtalk" => {
            let url = ctx
                .outbound
                .check(&address)
                .map_err(|e| Invalid::new("address", "invalid_address", format!("address: {e}")))?;
            let host = url.host_str().unwrap_or_default().to_ascii_lowercase();
            if !ctx.alerting.dingtalk_hosts.contains(&host) {
                // Officials type this address; the server must not POST wherever they say.
                return Err(Invalid::new(
                    "address",
                    "host_not_allowed",
                    format!(
                        "a DingTalk robot address is on {} (the dingtalk_hosts setting)",
                        ctx.alerting.dingtalk_hosts.join(", ")
                    ),
                )
                .into());
            }
            let secret = f.secret.as_deref().map(str::trim).unwrap_or_default();
            if secret.is_empty()
                || secret.len() > 200
                || !secret.chars().all(|c| c.is_ascii_graphic())
            {
                return Err(Invalid::new(
                    "secret",
                    "invalid_secret",
                    "a DingTalk robot needs its signing secret (SEC…, printable ASCII)",
                )
                .into());
            }
            Ok(NewContact {
                kind: "dingtalk",
                name: name.to_owned(),
                address: url.to_string(),
                secret: Some(secret.to_owned()),
                language,
            })
        }
        "email" => {
            if ctx.alerting.smtp.is_none() {
                return Err(Invalid::new(
                    "kind",
                    "email_not_configured",
                    "no mail server is configured (smtp_host)",
                )
                .into());
            }
            if f.secret.is_some() {
                return Err(
                    Invalid::new("secret", "invalid_secret", "an email has no secret").into(),
                );
            }
            address.parse::<lettre::Address>().map_err(|_| {
                Invalid::new(
                    "address",
                    "invalid_address",
                    "address is not an email address",
                )
            })?;
            Ok(NewContact {
                kind: "email",
                name: name.to_owned(),
                address,
                secret: None,
                language,
            })
        }
        _ => Err(Invalid::new("kind", "invalid_kind", "kind is dingtalk or email").into()),
    }
}

/// Adds a contact for a village in the official's reach, or for an incident (audited; the
/// address and secret are not written to the audit log). With an idempotency key a retry gets
/// the contact the first request added.
pub async fn add(
    ctx: &Ctx,
    p: &Principal,
    f: &ContactForm,
    idempotency_key: Option<&str>,
) -> Result<ContactView> {
    authz::authorize(p, Action::SendAlerts)?;
    let c = parse(ctx, f)?;
    let zone = match f.zone_id {
        Some(z) => Some(super::super::orders::zone_in_reach(ctx, p, z).await?.id),
        None => None,
    };
    let now = ctx.now();
    let mut tx = ctx.db.begin().await?;
    // The form holds the contact's secret: only its keyed hash is kept, as for every key.
    let ticket = match super::super::idempotency::begin_form::<Uuid, _>(
        &ctx.id_key,
        &mut tx,
        ("alert_contact", p),
        idempotency_key,
        &[],
        f,
        now,
    )
    .await?
    {
        super::super::idempotency::Once::Replay(first) => {
            drop(tx);
            return channels::contact(&ctx.db, first)
                .await?
                .map(|k| view(&k))
                .ok_or(ServiceError::NotFound("contact"));
        }
        super::super::idempotency::Once::Go(ticket) => ticket,
    };
    let public_id = Uuid::new_v4();
    channels::insert_contact(
        &mut tx,
        &channels::ContactInsert {
            public_id,
            kind: c.kind,
            name: &c.name,
            zone_id: zone,
            incident_id: f.incident_id,
            address: &c.address,
            secret: c.secret.as_deref(),
            language: c.language.as_str(),
            created_by: &p.actor(),
        },
        now,
    )
    .await?;
    audit::append(
        &mut tx,
        &AuditDraft::new(p.actor(), "alert_contact.add")
            .subject(format!("alert_contact:{public_id}"))
            .after(json!({"kind": c.kind, "zone": f.zone_id, "incident": f.incident_id})),
        now,
    )
    .await?;
    ticket.complete(&mut tx, 201, &public_id).await?;
    tx.commit().await?;
    channels::contact(&ctx.db, public_id)
        .await?
        .map(|k| view(&k))
        .ok_or(ServiceError::NotFound("contact"))
}

/// The contacts set up (officials).
pub async fn list(ctx: &Ctx, p: &Principal) -> Result<Vec<ContactView>> {
    authz::authorize(p, Action::SendAlerts)?;
    Ok(channels::contacts(&ctx.db)
        .await?
        .iter()
        .map(view)
        .collect())
}

/// Removes a contact (its village must be in the official's reach); audited.
pub async fn remove(ctx: &Ctx, p: &Principal, id: Uuid) -> Result<()> {
    authz::authorize(p, Action::SendAlerts)?;
    let k = channels::contact(&ctx.db, id)
        .await?
        .ok_or(ServiceError::NotFound("contact"))?;
    if let Some(z) = k.zone_public_id {
        super::super::orders::zone_in_reach(ctx, p, z).await?;
    }
    let now = ctx.now();
    let mut tx = ctx.db.begin().await?;
    channels::remove_contact(&mut tx, k.id, now).await?;
    audit::append(
        &mut tx,
        &AuditDraft::new(p.actor(), "alert_contact.remove").subject(format!("alert_contact:{id}")),
        now,
    )
    .await?;
    tx.commit().await?;
    Ok(())
}

fn pick(texts: &[AlertText], language: Language) -> &AlertText {
    texts
        .iter()
        .find(|t| t.language == language)
        .unwrap_or(&texts[0])
}

fn link(ctx: &Ctx, path: &str) -> Option<String> {
    ctx.alerting
        .public_url
        .as_ref()
        .map(|base| format!("{base}{path}"))
}

/// The alert as a group message: markdown for DingTalk, plain text for email.
fn alert_message(ctx: &Ctx, kind: &str, t: &AlertText, public_id: Uuid) -> (String, String) {
    let more = link(ctx, &format!("/v1/alerts/{public_id}/cap"));
    let (details, act) = match t.language {
        Language::Zh => ("详情", "请"),
        Language::En => ("Details", ""),
    };
    let body = if kind == "dingtalk" {
        let mut md = format!("### {}\n\n{}\n\n", t.headline, t.description);
        if !t.instruction.is_empty() {
            md.push_str(&format!("**{act}{}**\n\n", t.instruction));
        }
        if let Some(u) = more {
            md.push_str(&format!("[{details}]({u})\n"));
        }
        md
    } else {
        let mut s = format!("{}\n\n{}\n\n{}\n", t.headline, t.description, t.instruction);
        if let Some(u) = more {
            s.push_str(&format!("\n{details}: {u}\n"));
        }
        s
    };
    (t.headline.clone(), body)
}

/// A new alert as its villages' and incident's groups hear of it.
pub(super) struct NewAlertFor<'a> {
    pub id: i64,
    pub public_id: Uuid,
    /// Its words, its own language first.
    pub texts: &'a [AlertText],
    pub zone_ids: &'a [i64],
    pub incident: Option<Uuid>,
}

/// Queues the alert for the groups of its villages and its incident, in each group's
/// language; how many.
pub(super) async fn queue_for_alert(
    ctx: &Ctx,
    tx: &mut crate::store::Tx,
    a: &NewAlertFor<'_>,
    now: DateTime<Utc>,
) -> Result<u64> {
    let mut n = 0;
    for k in channels::contacts_for(tx, a.zone_ids, a.incident).await? {
        let t = pick(a.texts, Language::parse(&k.language).unwrap_or_default());
        let (subject, body) = alert_message(ctx, &k.kind, t, a.public_id);
        if channels::queue_contact_message(tx, k.id, a.id, "alert", &subject, &body, now).await? {
            n += 1;
        }
    }
    Ok(n)
}

/// Escalation's last step: each village's contacts hear how many there have still not
/// acknowledged and where the door-to-door list is; the incident's contacts hear the total.
pub(super) async fn queue_escalation(
    ctx: &Ctx,
    tx: &mut crate::store::Tx,
    a: &alerts::AlertRow,
    now: DateTime<Utc>,
) -> Result<u64> {
    let pending = channels::pending_per_zone(tx, a.id).await?;
    let zone_ids: Vec<i64> = pending.iter().filter_map(|(z, _)| *z).collect();
    let total: i64 = pending.iter().map(|(_, n)| n).sum();
    if total == 0 {
        return Ok(0);
    }
    let list = link(ctx, &format!("/ops#door={}", a.public_id));
    let mut queued = 0;
    for k in channels::contacts_for(tx, &zone_ids, a.incident_id).await? {
        let language = Language::parse(&k.language).unwrap_or_default();
        let t = super::channels::text_in(a, language);
        let n = match k.zone_id {
            Some(z) => pending
                .iter()
                .find(|(pz, _)| *pz == Some(z))
                .map_or(0, |(_, n)| *n),
            None => total,
        };
        if n == 0 {
            continue;
        }
        let place = k.zone_name.clone().unwrap_or_default();
        let (subject, mut body) = match language {
            Language::Zh => (
                format!("【未确认】{}", t.headline),
                format!(
                    "{place} 仍有 {n} 人未确认收到预警「{}」，短信和电话均未确认，请上门通知。",
                    t.headline
                ),
            ),
            Language::En => (
                format!("[Not acknowledged] {}", t.headline),
                format!(
                    "{n} {}{} {} still not acknowledged \"{}\" after SMS and a call: \
                     please reach them door to door.",
                    if n == 1 { "person" } else { "people" },
                    if place.is_empty() {
                        String::new()
                    } else {
                        format!(" in {place}")
                    },
                    if n == 1 { "has" } else { "have" },
                    t.headline
                ),
            ),
        };
        if k.kind == "dingtalk" {
            body = format!("### {subject}\n\n{body}");
        }
        if let Some(u) = &list {
            let words = match language {
                Language::Zh => "上门名单",
                Language::En => "Door-to-door list",
            };
            body.push_str(&if k.kind == "dingtalk" {
                format!("\n\n[{words}]({u})")
            } else {
                format!("\n\n{words}: {u}\n")
            });
        }
        if channels::queue_contact_message(tx, k.id, a.id, "escalation", &subject, &body, now)
            .await?
        {
            queued += 1;
        }
    }
    Ok(queued)
}

/// DingTalk's robot signature: HMAC-SHA256 keyed by the secret over "<timestamp ms>\n<secret>",
/// in base64 (sent URL-encoded as `sign`, beside `timestamp`), as DingTalk documents it.
pub fn dingtalk_sign(secret: &str, timestamp_ms: i64) -> String {
    use base64::Engine;
    let mut mac = Hmac::<Sha256>::new_from_slice(secret.as_bytes()).expect("HMAC takes any key");
    mac.update(format!("{timestamp_ms}\n{secret}").as_bytes());
    base64::engine::general_purpose::STANDARD.encode(mac.finalize().into_bytes())
}

async fn send_dingtalk(
    client: &reqwest::Client,
    m: &channels::ContactMessage,
    now: DateTime<Utc>,
) -> std::result::Result<(), String> {
    let ts = now.timestamp_millis();
    let mut url = url::Url::parse(&m.address).map_err(|_| "bad robot address".to_owned())?;
    url.query_pairs_mut()
        .append_pair("timestamp", &ts.to_string())
        .append_pair(
            "sign",
            &dingtalk_sign(m.secret.as_deref().unwrap_or_default(), ts),
        );
    let res = client
        .post(url)
        .json(&json!({"msgtype": "markdown",
                      "markdown": {"title": m.subject, "text": m.body}}))
        .send()
        .await
        .map_err(|e| crate::outbound::cause(&e))?;
    let status = res.status();
    // DingTalk answers 200 with an error code for a refused message (a bad signature, too
    // many messages a minute): only errcode 0 is delivered.
    let answer: serde_json::Value = res.json().await.unwrap_or_default();
    match answer.get("errcode").and_then(serde_json::Value::as_i64) {
        Some(0) if status.is_success() => Ok(()),
        code => Err(format!("DingTalk answered {status} errcode {code:?}")),
    }
}

async fn send_email(
    mailer: &lettre::AsyncSmtpTransport<lettre::Tokio1Executor>,
    from: &str,
    m: &channels::ContactMessage,
) -> std::result::Result<(), String> {
    use lettre::AsyncTransport;
    let email = lettre::Message::builder()
        .from(from.parse().map_err(|_| "bad from address".to_owned())?)
        .to(m.address.parse().map_err(|_| "bad address".to_owned())?)
        .subject(m.subject.clone())
        .header(lettre::message::header::ContentType::TEXT_PLAIN)
        .body(m.body.clone())
        .map_err(|e| e.to_string())?;
    mailer
        .send(email)
        .await
        .map(|_| ())
        .map_err(|e| crate::outbound::describe(&e))
}

/// The mail transport: STARTTLS required, the province's extra CA trusted.
fn mailer(
    ctx: &Ctx,
    s: &crate::config::SmtpSettings,
) -> std::result::Result<lettre::AsyncSmtpTransport<lettre::Tokio1Executor>, String> {
    use lettre::transport::smtp::client::{Certificate, Tls, TlsParameters};
    let mut params = TlsParameters::builder(s.host.clone());
    if let Some(pem) = &ctx.outbound.extra_ca_pem {
        params =
            params.add_root_certificate(Certificate::from_pem(pem).map_err(|e| e.to_string())?);
    }
    let params = params.build_rustls().map_err(|e| e.to_string())?;
    let mut b = lettre::AsyncSmtpTransport::<lettre::Tokio1Executor>::builder_dangerous(&s.host)
        .port(s.port)
        .tls(Tls::Required(params))
        .timeout(Some(std::time::Duration::from_secs(20)));
    if let (Some(u), Some(p)) = (&s.username, &s.password) {
        b = b.credentials(lettre::transport::smtp::authentication::Credentials::new(
            u.clone(),
            p.clone(),
        ));
    }
    Ok(b.build())
}

const BATCH: i64 = 50;
const LEASE: chrono::Duration = chrono::Duration::seconds(120);

/// Sends the contact messages due now; how many were tried.
pub async fn deliver_due(
    ctx: &Ctx,
    client: &reqwest::Client,
    mail: Option<&lettre::AsyncSmtpTransport<lettre::Tokio1Executor>>,
) -> Result<usize> {
    let now = ctx.now();
    if !channels::contact_messages_due(&ctx.db, now).await? {
        return Ok(0);
    }
    let mut tx = ctx.db.begin().await?;
    let batch = channels::claim_contact_messages(&mut tx, now, now + LEASE, BATCH).await?;
    tx.commit().await?;
    for m in &batch {
        let outcome = match (m.kind.as_str(), mail, &ctx.alerting.smtp) {
            ("dingtalk", _, _) => send_dingtalk(client, m, ctx.now()).await,
            ("email", Some(mailer), Some(s)) => send_email(mailer, &s.from, m).await,
            _ => Err("no mail server is configured".to_owned()),
        };
        let result = match outcome {
            Ok(()) => Ok(()),
            Err(cause) => {
                // The cause only: never the address (a robot's token) or the body.
                tracing::warn!(kind = %m.kind, attempts = m.attempts, %cause, "contact message failed");
                Err((m.attempts < MAX_ATTEMPTS)
                    .then(|| ctx.now() + backoff(ctx.alerting.retry_base_ms, m.attempts)))
            }
        };
        channels::contact_message_done(&ctx.db, m.id, result, ctx.now()).await?;
    }
    Ok(batch.len())
}

/// Delivers contact messages as they are queued and when their retry is due.
pub async fn deliver_when_due(ctx: Ctx) {
    let client = match ctx.outbound.client(std::time::Duration::from_secs(10)) {
        Ok(c) => c,
        Err(e) => {
            tracing::error!(error = %e, "cannot start the contacts client; messages wait");
            return;
        }
    };
    let mail = match &ctx.alerting.smtp {
        Some(s) => match mailer(&ctx, s) {
            Ok(m) => Some(m),
            Err(e) => {
                tracing::error!(error = %e, "cannot set up the mail server; email waits");
                None
            }
        },
        None => None,
    };
    let poll = std::time::Duration::from_millis(ctx.alerting.retry_base_ms.clamp(50, 1000));
    loop {
        match deliver_due(&ctx, &client, mail.as_ref()).await {
            Ok(n) if n >= BATCH as usize => continue,
            Ok(_) => {}
            Err(e) => tracing::warn!(error = %e, "contact delivery round failed; will retry"),
        }
        tokio::select! {
            _ = ctx.contacts_wake.notified() => {}
            _ = tokio::time::sleep(poll) => {}
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_dingtalk_signature_is_hmac_sha256_of_time_and_secret_in_base64() {
        use base64::Engine;
        let s = dingtalk_sign("SECabc", 1_700_000_000_000);
        let mut mac = Hmac::<Sha256>::new_from_slice(b"SECabc").unwrap();
        mac.update(b"1700000000000\nSECabc");
        assert_eq!(
            s,
            base64::engine::general_purpose::STANDARD.encode(mac.finalize().into_bytes())
        );
        assert_ne!(s, dingtalk_sign("SECabc", 1_700_000_000_001));
    }

    #[test]
    fn hints_hide_the_secret_part_of_an_address() {
        assert_eq!(
            hint(
                "dingtalk",
                "https://oapi.dingtalk.com/robot/send?access_token=abc"
            ),
            "oapi.dingtalk.com/robot/send…"
        );
        assert_eq!(hint("email", "zhang.wei@example.org"), "z…@example.org");
    }
}
