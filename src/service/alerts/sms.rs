//! SMS through an HTTP gateway the server sends to itself (`sms_gateway`): messages queued in
//! the outbox under `sms` are cut into parts a phone shows whole (`domain::message`), each
//! carrying at its end the recipient's one-tap acknowledgement link, and handed to the
//! gateway in its own format (Twilio's Messages API, or a JSON template). Every part the
//! gateway accepts is recorded under the gateway's message id: a retry sends only the parts
//! not yet accepted, and the gateway's delivery receipts (verified) mark the recipient
//! reached, once, however often the gateway repeats them.

use super::super::{Ctx, Result, ServiceError};
use super::webhook::{MAX_ATTEMPTS, backoff};
use crate::config::{SmsFormat, SmsGateway};
use crate::domain::message::sms_parts;
use crate::store::channels;
use base64::Engine;
use chrono::{DateTime, Utc};
use futures_util::StreamExt;
use hmac::{Hmac, Mac};
use serde::Serialize;
use serde_json::Value;

pub const CHANNEL: &str = "sms";
const BATCH: i64 = 500;
/// Messages handed to the gateway at once.
const CONCURRENCY: usize = 32;
const LEASE: chrono::Duration = chrono::Duration::seconds(120);
/// A JSON receipt's signed time may differ from ours this much.
const RECEIPT_SKEW_SECS: i64 = 300;

/// Where the gateway sends receipts (it must reach this server's public address).
pub fn receipt_url(base: &str, format: &SmsFormat) -> String {
    format!("{base}/v1/sms/receipts/{}", format.name())
}

/// Twilio's request signature: HMAC-SHA1 keyed by the auth token over the full URL followed
/// by every POST parameter's name and value, sorted by name, in base64.
pub fn twilio_signature(token: &str, url: &str, params: &[(String, String)]) -> String {
    let mut sorted: Vec<&(String, String)> = params.iter().collect();
    sorted.sort();
    let mut mac = Hmac::<sha1::Sha1>::new_from_slice(token.as_bytes()).expect("any key");
    mac.update(url.as_bytes());
    for (k, v) in sorted {
        mac.update(k.as_bytes());
        mac.update(v.as_bytes());
    }
    base64::engine::general_purpose::STANDARD.encode(mac.finalize().into_bytes())
}

/// Fills a JSON template: each string value that is exactly a placeholder is replaced by its
/// value, so text never needs escaping by hand and cannot break the JSON.
fn fill(template: &Value, to: &str, text: &str, reference: &str, from: &str) -> Value {
    match template {
        Value::String(s) => match s.as_str() {
            "{to}" => Value::from(to),
            "{text}" => Value::from(text),
            "{ref}" => Value::from(reference),
            "{from}" => Value::from(from),
            _ => template.clone(),
        },
        Value::Object(m) => Value::Object(
            m.iter()
                .map(|(k, v)| (k.clone(), fill(v, to, text, reference, from)))
                .collect(),
        ),
        Value::Array(a) => Value::Array(
            a.iter()
                .map(|v| fill(v, to, text, reference, from))
                .collect(),
        ),
        other => other.clone(),
    }
}

/// Hands one part to the gateway; the gateway's id for it.
async fn post_part(
    client: &reqwest::Client,
    gw: &SmsGateway,
    callback: &str,
    to: &str,
    text: &str,
    reference: &str,
) -> std::result::Result<String, String> {
    let req = match &gw.format {
        SmsFormat::Twilio { account, token } => client
            .post(&gw.url)
            .basic_auth(account, Some(token))
            .form(&[
                ("To", to),
                ("From", gw.from.as_str()),
                ("Body", text),
                ("StatusCallback", callback),
            ]),
        SmsFormat::Json {
            template, token, ..
        } => {
            let r = client
                .post(&gw.url)
                .json(&fill(template, to, text, reference, &gw.from));
            match token {
                Some(t) => r.bearer_auth(t),
                None => r,
            }
        }
    };
    let res = req.send().await.map_err(|e| crate::outbound::cause(&e))?;
    let status = res.status();
    if !status.is_success() {
        // The gateway's answer is not logged: it may echo the number or the text.
        return Err(format!("the gateway answered {status}"));
    }
    let answer: Value = res.json().await.unwrap_or_default();
    let pointer = match &gw.format {
        SmsFormat::Twilio { .. } => "/sid",
        SmsFormat::Json { id_pointer, .. } => id_pointer.as_str(),
    };
    Ok(match answer.pointer(pointer) {
        Some(Value::String(s)) if !s.is_empty() => s.clone(),
        Some(Value::Number(n)) => n.to_string(),
        // A gateway that gives no id is known by our reference, which it was sent.
        _ => reference.to_owned(),
    })
}

/// Sends the parts of one message not yet accepted; whether all are now.
/// A part the gateway accepted: (its id for it, the message, the part).
type Accepted = (String, i64, i32);

async fn send_message(
    ctx: &Ctx,
    client: &reqwest::Client,
    gw: &SmsGateway,
    callback: &str,
    m: &channels::Claimed,
    link: Option<&str>,
    record: &tokio::sync::mpsc::UnboundedSender<Accepted>,
) -> Result<bool> {
    let parts = sms_parts(&m.body, link);
    // A first attempt has no parts sent before it (the attempt is counted when claimed).
    let done = if m.attempts > 1 {
        channels::accepted_parts(&ctx.db, m.id).await?
    } else {
        Vec::new()
    };
    for (i, text) in parts.iter().enumerate() {
        let part = i32::try_from(i).unwrap_or(i32::MAX);
        if done.contains(&part) {
            continue;
        }
        // Stable across retries: a gateway that deduplicates by reference drops a repeat.
        let reference = format!("sc-{}-{part}", m.id);
        match post_part(client, gw, callback, &m.phone, text, &reference).await {
            Ok(id) => {
                if record.send((id, m.id, part)).is_err() {
                    return Err(ServiceError::internal("the SMS recorder stopped"));
                }
            }
            Err(cause) => {
                tracing::warn!(%cause, attempts = m.attempts, "SMS part not accepted");
                return Ok(false);
            }
        }
    }
    Ok(true)
}

#[derive(Debug, Default, PartialEq, Eq)]
pub struct Round {
    pub sent: usize,
    pub failed: usize,
}

/// Sends the SMS due now through the gateway.
pub async fn deliver_due(ctx: &Ctx, client: &reqwest::Client, gw: &SmsGateway) -> Result<Round> {
    let now = ctx.now();
    if !channels::due(&ctx.db, CHANNEL, now).await? {
        return Ok(Round::default());
    }
    let mut tx = ctx.db.begin().await?;
    let batch = channels::claim(&mut tx, CHANNEL, now, now + LEASE, BATCH).await?;
    tx.commit().await?;
    let base = ctx.alerting.public_url.clone().unwrap_or_default();
    // One fresh link per message sent; a link sent before stays good until it expires.
    let tokens: Vec<(String, Vec<u8>)> = batch.iter().map(|_| super::links::new_token()).collect();
    let rows: Vec<(Vec<u8>, i64, i64)> = batch
        .iter()
        .zip(&tokens)
        .map(|(m, (_, h))| (h.clone(), m.alert_id, m.resident_id))
        .collect();
    channels::insert_ack_links(
        &ctx.db,
        &rows,
        now,
        now + chrono::Duration::hours(i64::from(ctx.alerting.ack_link_hours)),
    )
    .await?;
    let callback = receipt_url(&base, &gw.format);
    let work: Vec<(channels::Claimed, String)> = batch
        .into_iter()
        .zip(
            tokens
                .into_iter()
                .map(|(t, _)| super::links::url(&base, &t)),
        )
        .collect();
    let callback = callback.as_str();
    // Accepted parts are written as they come, in group commits: while one transaction runs,
    // the next group gathers. A crash loses at most the group in flight, whose parts a retry
    // sends again (with the same `{ref}`, for a gateway that drops repeats).
    let (record, mut recorded) = tokio::sync::mpsc::unbounded_channel::<Accepted>();
    let sending = async move {
        futures_util::stream::iter(work)
            .map(|(m, link)| {
                let record = record.clone();
                async move {
                    let r = send_message(ctx, client, gw, callback, &m, Some(&link), &record).await;
                    (m.id, m.attempts, r)
                }
            })
            .buffer_unordered(CONCURRENCY)
            .collect::<Vec<(i64, i32, Result<bool>)>>()
            .await
    };
    let recording = async {
        let mut group = Vec::new();
        while recorded.recv_many(&mut group, 1000).await > 0 {
            channels::accepted(&ctx.db, CHANNEL, &group, ctx.now()).await?;
            group.clear();
        }
        Ok::<(), ServiceError>(())
    };
    let (outcomes, recorded) = tokio::join!(sending, recording);
    recorded?;
    let mut round = Round::default();
    let mut sent = Vec::new();
    let mut retry: std::collections::BTreeMap<Option<DateTime<Utc>>, Vec<i64>> = Default::default();
    for (id, attempts, r) in outcomes {
        match r {
            Ok(true) => sent.push(id),
            Ok(false) => {
                let at = (attempts < MAX_ATTEMPTS)
                    .then(|| ctx.now() + backoff(ctx.alerting.retry_base_ms, attempts));
                retry.entry(at).or_default().push(id);
            }
            Err(e) => return Err(e),
        }
    }
    round.sent = sent.len();
    channels::sent(&ctx.db, &sent, ctx.now()).await?;
    for (at, ids) in retry {
        round.failed += ids.len();
        channels::retry(&ctx.db, &ids, at, ctx.now()).await?;
    }
    Ok(round)
}

/// Sends SMS as they are queued and when their retry is due, until the process ends. Does
/// nothing without a configured gateway (a gateway then drains `GET /v1/outbox`).
pub async fn deliver_when_due(ctx: Ctx) {
    let Some(gw) = ctx.alerting.sms.clone() else {
        return;
    };
    let client = match ctx
        .outbound
        .check(&gw.url)
        .and_then(|_| ctx.outbound.client(std::time::Duration::from_secs(15)))
    {
        Ok(c) => c,
        Err(e) => {
            tracing::error!(error = %e, "cannot start the SMS gateway client; SMS wait");
            return;
        }
    };
    let poll = std::time::Duration::from_millis(ctx.alerting.retry_base_ms.clamp(50, 1000));
    loop {
        match deliver_due(&ctx, &client, &gw).await {
            Ok(r) if r.sent + r.failed >= BATCH as usize => continue,
            Ok(_) => {}
            Err(e) => tracing::warn!(error = %e, "SMS round failed; will retry"),
        }
        tokio::select! {
            _ = ctx.sms_wake.notified() => {}
            _ = tokio::time::sleep(poll) => {}
        }
    }
}

#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct ReceiptAnswer {
    /// False for a receipt seen before, or one that does not say "delivered".
    pub counted: bool,
}

fn gateway(ctx: &Ctx, format: &str) -> Result<SmsGateway> {
    ctx.alerting
        .sms
        .clone()
        .filter(|g| g.format.name() == format)
        .ok_or(ServiceError::NotFound("SMS gateway"))
}

async fn record(ctx: &Ctx, provider_id: &str, delivered: bool) -> Result<ReceiptAnswer> {
    if !delivered || provider_id.is_empty() || provider_id.len() > 200 {
        return Ok(ReceiptAnswer { counted: false });
    }
    let mut tx = ctx.db.begin().await?;
    let r = channels::receipt(&mut tx, CHANNEL, provider_id, ctx.now()).await?;
    tx.commit().await?;
    Ok(ReceiptAnswer {
        counted: matches!(r, channels::Receipt::Recorded { .. }),
    })
}

/// A Twilio status callback: form fields, signed `X-Twilio-Signature`.
pub async fn twilio_receipt(
    ctx: &Ctx,
    signature: Option<&str>,
    params: &[(String, String)],
) -> Result<ReceiptAnswer> {
    let gw = gateway(ctx, "twilio")?;
    let SmsFormat::Twilio { token, .. } = &gw.format else {
        return Err(ServiceError::NotFound("SMS gateway"));
    };
    let base = ctx.alerting.public_url.clone().unwrap_or_default();
    let expected = twilio_signature(token, &receipt_url(&base, &gw.format), params);
    let given = signature.unwrap_or_default();
    // Compared in constant time: the MAC of the expected value against the given one.
    if !constant_eq(expected.as_bytes(), given.as_bytes()) {
        return Err(ServiceError::Unauthenticated);
    }
    let get = |k: &str| params.iter().find(|(n, _)| n == k).map(|(_, v)| v.as_str());
    record(
        ctx,
        get("MessageSid").unwrap_or_default(),
        get("MessageStatus") == Some("delivered"),
    )
    .await
}

/// A receipt in the JSON format: `{"message_id": …, "status": "delivered"}`, signed like the
/// webhook (`Safecode-Signature: t=…,v1=…`) with `sms_receipt_secret`.
pub async fn json_receipt(
    ctx: &Ctx,
    signature: Option<&str>,
    body: &[u8],
) -> Result<ReceiptAnswer> {
    let gw = gateway(ctx, "json")?;
    let SmsFormat::Json { receipt_secret, .. } = &gw.format else {
        return Err(ServiceError::NotFound("SMS gateway"));
    };
    let sig = signature.unwrap_or_default();
    let t = sig
        .split(',')
        .find_map(|p| p.strip_prefix("t="))
        .and_then(|t| t.parse::<i64>().ok())
        .ok_or(ServiceError::Unauthenticated)?;
    if (ctx.now().timestamp() - t).abs() > RECEIPT_SKEW_SECS {
        return Err(ServiceError::Unauthenticated);
    }
    let expected = super::webhook::signature(receipt_secret, t, body);
    if !constant_eq(expected.as_bytes(), sig.as_bytes()) {
        return Err(ServiceError::Unauthenticated);
    }
    #[derive(serde::Deserialize)]
    struct Receipt {
        message_id: Value,
        status: String,
    }
    let r: Receipt = serde_json::from_slice(body).map_err(|_| {
        crate::domain::Invalid::new(
            "body",
            "invalid_receipt",
            "a receipt is {\"message_id\": …, \"status\": …}",
        )
    })?;
    let id = match r.message_id {
        Value::String(s) => s,
        Value::Number(n) => n.to_string(),
        _ => String::new(),
    };
    let delivered = matches!(
        r.status.to_ascii_lowercase().as_str(),
        "delivered" | "delivrd"
    );
    record(ctx, &id, delivered).await
}

fn constant_eq(a: &[u8], b: &[u8]) -> bool {
    a.len() == b.len() && a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn twilio_signatures_follow_twilios_documented_example() {
        // The example in Twilio's webhook security documentation (same value from Python's hmac).
        let params: Vec<(String, String)> = [
            ("CallSid", "CA1234567890ABCDE"),
            ("Caller", "+12349013030"),
            ("Digits", "1234"),
            ("From", "+12349013030"),
            ("To", "+18005551212"),
        ]
        .iter()
        .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
        .collect();
        assert_eq!(
            twilio_signature(
                "12345",
                "https://mycompany.com/myapp.php?foo=1&bar=2",
                &params
            ),
            "0/KCTR6DLpKmkAf8muzZqo1nDgQ="
        );
    }

    #[test]
    fn templates_are_filled_by_value_not_by_splicing() {
        let t: Value = serde_json::json!({"msg": {"to": "{to}", "body": "{text}"},
                                          "ref": "{ref}", "fixed": 1, "list": ["{from}"]});
        let text = "水\"}, \"evil\": 1";
        let v = fill(&t, "+8613800000000", text, "sc-1-0", "safecode");
        assert_eq!(v["msg"]["body"], text);
        assert_eq!(v["msg"]["to"], "+8613800000000");
        assert_eq!(v["ref"], "sc-1-0");
        assert_eq!(v["fixed"], 1);
        assert_eq!(v["list"][0], "safecode");
        assert!(v.get("evil").is_none());
    }
}
