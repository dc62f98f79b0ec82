//! Installed models and key/value settings.

use std::collections::BTreeMap;

use serde::de::DeserializeOwned;
use serde::Serialize;
use sqlx::Row;

use crate::error::{Result, SqlxResultExt, StoreError};
use crate::model::{InstalledModel, ModelRole, NewModel};
use crate::{now, rows, ts, Store};

impl Store {
    /// Records an installed model file, or updates size and checksum when
    /// the same path is already known in that role.
    pub async fn upsert_model(&self, model: &NewModel) -> Result<InstalledModel> {
        let row = sqlx::query(
            "INSERT INTO installed_models (path, role, size_bytes, sha256, installed_at)
             VALUES (?1, ?2, ?3, ?4, ?5)
             ON CONFLICT (path, role) DO UPDATE
                 SET size_bytes = excluded.size_bytes, sha256 = excluded.sha256,
                     installed_at = excluded.installed_at
             RETURNING id, path, role, size_bytes, sha256, installed_at",
        )
        .bind(&model.path)
        .bind(model.role.as_str())
        .bind(model.size_bytes)
        .bind(model.sha256.as_deref())
        .bind(ts(now()))
        .fetch_one(&self.pool)
        .await
        .at(&self.path)?;
        rows::installed_model(&row).at(&self.path)
    }

    /// Installed models, optionally only those in one role, by path.
    pub async fn list_models(&self, role: Option<ModelRole>) -> Result<Vec<InstalledModel>> {
        let rows = sqlx::query(
            "SELECT id, path, role, size_bytes, sha256, installed_at FROM installed_models
             WHERE ?1 IS NULL OR role = ?1 ORDER BY path, role",
        )
        .bind(role.map(ModelRole::as_str))
        .fetch_all(&self.pool)
        .await
        .at(&self.path)?;
        rows.iter()
            .map(rows::installed_model)
            .collect::<std::result::Result<_, _>>()
            .at(&self.path)
    }

    /// Forgets an installed model (the file itself is not touched).
    pub async fn remove_model(&self, id: i64) -> Result<()> {
        let r = sqlx::query("DELETE FROM installed_models WHERE id = ?1")
            .bind(id)
            .execute(&self.pool)
            .await
            .at(&self.path)?;
        if r.rows_affected() == 0 {
            return Err(StoreError::NotFound { what: "model", id });
        }
        Ok(())
    }

    /// Reads a setting; `None` when it was never set.
    pub async fn get_setting<T: DeserializeOwned>(&self, key: &str) -> Result<Option<T>> {
        let value: Option<String> = sqlx::query_scalar("SELECT value FROM settings WHERE key = ?1")
            .bind(key)
            .fetch_optional(&self.pool)
            .await
            .at(&self.path)?;
        value
            .map(|v| serde_json::from_str(&v).map_err(StoreError::from))
            .transpose()
    }

    /// Stores a setting as JSON, replacing any earlier value.
    pub async fn set_setting<T: Serialize + ?Sized>(&self, key: &str, value: &T) -> Result<()> {
        let json = serde_json::to_string(value)?;
        sqlx::query(
            "INSERT INTO settings (key, value, updated_at) VALUES (?1, ?2, ?3)
             ON CONFLICT (key) DO UPDATE SET value = excluded.value, updated_at = excluded.updated_at",
        )
        .bind(key)
        .bind(json)
        .bind(ts(now()))
        .execute(&self.pool)
        .await
        .at(&self.path)?;
        Ok(())
    }

    /// Removes a setting; returns whether it existed.
    pub async fn delete_setting(&self, key: &str) -> Result<bool> {
        let r = sqlx::query("DELETE FROM settings WHERE key = ?1")
            .bind(key)
            .execute(&self.pool)
            .await
            .at(&self.path)?;
        Ok(r.rows_affected() > 0)
    }

    /// Every setting, by key.
    pub async fn all_settings(&self) -> Result<BTreeMap<String, serde_json::Value>> {
        let rows = sqlx::query("SELECT key, value FROM settings ORDER BY key")
            .fetch_all(&self.pool)
            .await
            .at(&self.path)?;
        let mut out = BTreeMap::new();
        for row in &rows {
            let key: String = row.try_get("key").at(&self.path)?;
            let value: String = row.try_get("value").at(&self.path)?;
            out.insert(key, serde_json::from_str(&value)?);
        }
        Ok(out)
    }
}
